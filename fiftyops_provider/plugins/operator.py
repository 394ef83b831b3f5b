"""What a plugin implements: an ``Operator`` with an ``OperatorConfig``.

The config carries FiftyOne's execution flags plus execution control: ``execution_timeout``
(seconds), ``on_reset`` (what happens when a run times out or its worker dies: "failed" or
"rerun") and ``max_attempts`` (how many runs "rerun" allows in all).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fiftyops_provider.plugins.context import ExecutionContext
    from fiftyops_provider.plugins.inputs import Inputs
    from fiftyops_provider.plugins.pipeline import Pipeline

ON_RESET_POLICIES = ("failed", "rerun")


@dataclass
class OperatorConfig:
    name: str
    label: str | None = None
    description: str | None = None
    allow_delegated_execution: bool = False
    allow_immediate_execution: bool = True
    default_choice_to_delegated: bool = False
    unlisted: bool = False
    rerunnable: bool = True
    execution_timeout: float = 3600.0
    on_reset: str = "failed"
    max_attempts: int = 1

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ValueError("OperatorConfig needs a non-empty name.")
        self.label = self.label or self.name
        if self.on_reset not in ON_RESET_POLICIES:
            raise ValueError(f"on_reset must be one of {ON_RESET_POLICIES}, got {self.on_reset!r}.")
        if not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ValueError("max_attempts must be an integer >= 1.")
        if not self.execution_timeout or self.execution_timeout <= 0:
            raise ValueError("execution_timeout must be a positive number of seconds.")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Operator:
    """Base class of plugin operators. Subclasses define ``config`` and ``execute``.

    ``execute(ctx)`` may be a plain function, a coroutine function or a generator; its return
    value (a JSON-like dict) becomes the operation's ``result.result``.
    """

    plugin_name: str = ""

    @property
    def config(self) -> OperatorConfig:
        raise NotImplementedError(f"{type(self).__name__} must define a `config` property returning an OperatorConfig.")

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def uri(self) -> str:
        return f"{self.plugin_name}/{self.name}"

    def resolve_input(self, ctx: ExecutionContext) -> Inputs | None:
        """The inputs this operator takes; None means it takes none."""
        return None

    def resolve_output(self, ctx: ExecutionContext) -> Inputs | None:
        """The shape of the result, stored as ``metadata.outputs_schema``."""
        return None

    def resolve_run_name(self, ctx: ExecutionContext) -> str:
        """The operation's label in run listings."""
        return self.config.label or self.name

    def execute(self, ctx: ExecutionContext) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement execute(ctx).")


class PipelineOperator(Operator):
    """An operator whose work is a sequence of other operators' runs (stages)."""

    def resolve_pipeline(self, ctx: ExecutionContext) -> Pipeline:
        raise NotImplementedError(f"{type(self).__name__} must implement resolve_pipeline(ctx).")

    def execute(self, ctx: ExecutionContext) -> Any:
        raise TypeError("A PipelineOperator runs its stages; it has no execute() of its own.")

"""What a plugin implements: an ``Operator`` with an ``OperatorConfig``.

The config carries FiftyOne's execution flags plus execution control: ``execution_timeout``
(seconds), ``on_reset`` (what happens when a run times out or its worker dies: "failed" or
"rerun") and ``max_attempts`` (how many runs "rerun" allows in all), and placement: where
Airflow runs the operation's task (``queue``, ``pool``, ``priority_weight``, ``executor_config``;
unset: the deployment's defaults). An admin can override the placement per operator
(``PluginRegistry.set_operator_placement``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fiftyops_provider.plugins.context import ExecutionContext
    from fiftyops_provider.plugins.inputs import Inputs
    from fiftyops_provider.plugins.pipeline import Pipeline

ON_RESET_POLICIES = ("failed", "rerun")
PLACEMENT_FIELDS = ("queue", "pool", "priority_weight", "executor_config")


def validate_placement(placement: Any) -> dict[str, Any]:
    """The set fields of a placement (``queue``, ``pool``: names; ``priority_weight``: an integer;
    ``executor_config``: a dict, e.g. the Kubernetes executor's ``pod_override`` spec).
    Raises ValueError naming the bad field."""
    if not isinstance(placement, dict):
        raise ValueError(f"A placement is a dict with some of {', '.join(PLACEMENT_FIELDS)}.")
    unknown = sorted(set(placement) - set(PLACEMENT_FIELDS))
    if unknown:
        raise ValueError(f"Unknown placement field(s) {unknown}; use {', '.join(PLACEMENT_FIELDS)}.")
    for name in ("queue", "pool"):
        value = placement.get(name)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ValueError(f"{name} must be a non-empty name, not {value!r}.")
    weight = placement.get("priority_weight")
    if weight is not None and (isinstance(weight, bool) or not isinstance(weight, int)):
        raise ValueError(f"priority_weight must be an integer, not {weight!r}.")
    executor_config = placement.get("executor_config")
    if executor_config is not None and not isinstance(executor_config, dict):
        raise ValueError(f"executor_config must be a dict, not {type(executor_config).__name__}.")
    return {name: value for name, value in placement.items() if value is not None}


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
    queue: str | None = None
    pool: str | None = None
    priority_weight: int | None = None
    executor_config: dict[str, Any] | None = None

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
        validate_placement(self.placement())

    def placement(self) -> dict[str, Any]:
        """The placement fields this config sets."""
        return {name: getattr(self, name) for name in PLACEMENT_FIELDS if getattr(self, name) is not None}

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

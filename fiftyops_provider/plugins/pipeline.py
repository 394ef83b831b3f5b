"""Pipelines: a ``PipelineOperator`` resolves to stages run one after the other.

Stored on the operation document as ``pipeline = {"stages": [...]}`` (FiftyOne's shape).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, overload


@dataclass
class PipelineStage:
    operator_uri: str
    name: str | None = None
    params: dict[str, Any] | None = None
    always_run: bool = False
    rerunnable: bool | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.operator_uri, str) or not self.operator_uri:
            raise ValueError("A pipeline stage needs an operator_uri.")
        if self.params is not None and not isinstance(self.params, Mapping):
            raise ValueError(f"Stage {self.operator_uri}: params must be a dict.")


@dataclass
class Pipeline:
    stages: list[PipelineStage] = field(default_factory=list)

    def stage(
        self,
        operator_uri: str,
        *,
        name: str | None = None,
        params: Mapping[str, Any] | None = None,
        always_run: bool = False,
        rerunnable: bool | None = None,
    ) -> Pipeline:
        self.stages.append(PipelineStage(operator_uri, name, dict(params) if params else None, always_run, rerunnable))
        return self

    def to_json(self) -> dict[str, Any]:
        return {"stages": [asdict(stage) for stage in self.stages]}

    @overload
    @classmethod
    def from_json(cls, value: Mapping[str, Any] | list) -> Pipeline: ...

    @overload
    @classmethod
    def from_json(cls, value: None) -> None: ...

    @classmethod
    def from_json(cls, value: Mapping[str, Any] | list | None) -> Pipeline | None:
        if value is None:
            return None
        stages = value if isinstance(value, list) else value.get("stages", [])
        known = {"operator_uri", "name", "params", "always_run", "rerunnable"}
        return cls([PipelineStage(**{k: v for k, v in stage.items() if k in known}) for stage in stages])


@dataclass
class PipelineExecutionContext:
    """``ctx.pipeline`` while a stage runs: where the pipeline is and whether it is still healthy."""

    active: bool = True
    curr_stage_index: int = 0
    total_stages: int = 0
    pipeline_errors: dict[str, str] | None = None

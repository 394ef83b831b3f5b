"""``ExecutionContext``: what an operator's ``execute(ctx)`` sees.

The executor builds it with callbacks into the store (progress, termination checks), so operator
code never talks to MongoDB directly and the same operator runs under Airflow, the local launcher
or a test.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from fiftyops_provider.plugins.errors import OperationTerminated
from fiftyops_provider.plugins.pipeline import PipelineExecutionContext

ProgressCallback = Callable[[float | None, str | None], None]
TerminationCheck = Callable[[], str | None]
DatasetLoader = Callable[[str | None, str | None], Any]


class ExecutionContext:
    def __init__(
        self,
        request_params: Mapping[str, Any] | None = None,
        *,
        operation_id: str | None = None,
        user: str | None = None,
        secrets: Mapping[str, str] | None = None,
        on_progress: ProgressCallback | None = None,
        termination_check: TerminationCheck | None = None,
        dataset_loader: DatasetLoader | None = None,
        logger: logging.Logger | None = None,
        pipeline: PipelineExecutionContext | None = None,
    ) -> None:
        self.request_params: dict[str, Any] = dict(request_params or {})
        self.request_params.setdefault("params", {})
        self.operation_id = operation_id
        self.user = user
        self._secrets = dict(secrets or {})
        self._on_progress = on_progress
        self._termination_check = termination_check
        self._dataset_loader = dataset_loader
        self._dataset: Any = None
        self.logger = logger or logging.getLogger("fiftyops.operator")
        self.pipeline = pipeline

    @property
    def params(self) -> dict[str, Any]:
        return self.request_params["params"]

    @property
    def dataset_name(self) -> str | None:
        return self.request_params.get("dataset_name")

    @property
    def dataset_id(self) -> str | None:
        value = self.request_params.get("dataset_id")
        return str(value) if value is not None else None

    @property
    def delegated(self) -> bool:
        return bool(self.request_params.get("delegated", False))

    @property
    def dataset(self) -> Any:
        """The dataset the operation runs on, loaded by id first (so a rename does not break a
        queued operation), then by name."""
        if self._dataset is None:
            if self._dataset_loader is None:
                raise RuntimeError("This context has no dataset access (no dataset_loader was given).")
            if self.dataset_id is None and self.dataset_name is None:
                raise RuntimeError("This operation was queued without a dataset.")
            self._dataset = self._dataset_loader(self.dataset_id, self.dataset_name)
        return self._dataset

    @property
    def secrets(self) -> Mapping[str, str]:
        return dict(self._secrets)

    def secret(self, key: str) -> str | None:
        return self._secrets.get(key)

    def log(self, message: str, *args: Any) -> None:
        self.logger.info(message, *args)

    def set_progress(self, progress: float | None = None, label: str | None = None) -> None:
        """Report progress (0..1) and/or a label. A failing report never fails the operation."""
        if self._on_progress is None:
            self.logger.info("Progress: %s - %s", progress, label)
            return
        try:
            self._on_progress(progress, label)
        except Exception:  # a store hiccup must not kill a long run
            self.logger.warning("Could not record progress %s / %s", progress, label, exc_info=True)

    def check_for_termination(self) -> None:
        """The kill checkpoint: raises ``OperationTerminated`` if the operation was asked to stop.

        Call it between units of work; save partial results before re-raising if you catch it.
        """
        if self._termination_check is None:
            return
        reason = self._termination_check()
        if reason:
            raise OperationTerminated(reason)

    def kill_event(self) -> None:
        """Alias of ``check_for_termination`` (Dataloop's name for the same checkpoint)."""
        self.check_for_termination()

    def serialize(self) -> dict[str, Any]:
        return {"request_params": self.request_params, "params": self.params}

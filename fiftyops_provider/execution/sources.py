"""Where operators come from: an injectable ``OperatorSource``.

The executor never imports plugin code by a fixed route. It asks a source, named by an import
path ``"module:factory"`` (``factory(db) -> OperatorSource``), because the run is split over two
processes: the parent uses the source for the pre-run checks, the declared secrets and the
operator's execution policy; the child process builds the same source from the same path to
execute the operator. The default is the plugin registry; tests and embedders point at their own.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol, runtime_checkable

from pymongo.database import Database

from fiftyops_provider.plugins.operator import Operator

DEFAULT_OPERATOR_SOURCE = "fiftyops_provider.execution.sources:registry_source"


@runtime_checkable
class OperatorSource(Protocol):
    """What the executor needs to know about operators."""

    def load_operator(self, uri: str) -> Operator:
        """The operator instance; raises ``OperatorNotFound``/``PluginNotFound``."""

    def check_runnable(self, uri: str, user: str | None, dataset_id: Any, dataset_name: str | None) -> None:
        """Raise ``OperatorDisabled``/``PermissionDenied``/``OperatorNotFound`` if ``user`` may not
        run ``uri`` on that dataset now."""

    def declared_secrets(self, uri: str) -> list[str]:
        """The secret keys the operator's plugin declares (only these reach the operator)."""

    def load_dataset(self, dataset_id: Any, dataset_name: str | None) -> Any:
        """The dataset an operation runs on (``ctx.dataset``), by id first, then by name."""


@runtime_checkable
class RunnableCatalog(Protocol):
    """A source that can say which operators it runs (dispatchers route by it, ``store.routing``);
    a source without it is taken to run any operator."""

    def runnable_operators(self) -> set[str]:
        """The operator URIs it can run now: installed, enabled, delegation-capable."""


class RegistrySource:
    """The production source: plugins installed in the database's plugin registry."""

    def __init__(self, db: Database) -> None:
        from fiftyops_provider.config import load_settings
        from fiftyops_provider.execution.fiftyone_runtime import configured_runtime
        from fiftyops_provider.plugins.registry import PluginRegistry

        self.db = db
        # The registry resolves FiftyOne's own operators too (``plugins.fiftyone_builtins``);
        # the runtime is what the executor starts their child with.
        self.registry = PluginRegistry(db)
        self.fiftyone = configured_runtime(load_settings().fiftyone_python)

    def load_operator(self, uri: str) -> Operator:
        return self.registry.load_operator(uri)

    def check_runnable(self, uri: str, user: str | None, dataset_id: Any, dataset_name: str | None) -> None:
        """The registry's checks as the run starts: a run of FiftyOne's own operators that
        FiftyOne queued (no FiftyOps user) needs only that the operator is enabled."""
        self.registry.check_runnable(uri, user, dataset_id, dataset_name, at_run_time=True)

    def declared_secrets(self, uri: str) -> list[str]:
        return list(self.registry.declared_secrets(uri))

    def load_dataset(self, dataset_id: Any, dataset_name: str | None) -> Any:
        from fiftyops_provider.datasets.catalog import load_dataset

        return load_dataset(self.db, dataset_id, dataset_name)

    def runnable_operators(self) -> set[str]:
        """The registry's enabled, delegation-capable operators (those of FiftyOne plugins only
        with a FiftyOne interpreter here), and FiftyOne's own enabled ones."""
        from fiftyops_provider.plugins.fiftyone_plugins import FIFTYONE_RUNTIME

        return {
            info.uri
            for info in [*self.registry.list_operators(), *self.registry.fiftyone_operators()]
            if info.enabled
            and info.delegation_capable
            and (self.fiftyone is not None or info.runtime != FIFTYONE_RUNTIME)
        }


def registry_source(db: Database) -> RegistrySource:
    """Factory of the default source (``DEFAULT_OPERATOR_SOURCE`` names it)."""
    return RegistrySource(db)


def build_source(spec: str, db: Database) -> OperatorSource:
    """Import ``"module:factory"`` and call ``factory(db)``; a bad spec is a clear error."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"Operator source {spec!r} must look like 'package.module:factory'.")
    factory = getattr(importlib.import_module(module_name), attr, None)
    if not callable(factory):
        raise ValueError(f"Operator source {spec!r}: {module_name} has no callable {attr!r}.")
    source = factory(db)
    if not isinstance(source, OperatorSource):
        raise TypeError(
            f"Operator source {spec!r} returned {type(source).__name__}, which lacks "
            "load_operator/check_runnable/declared_secrets/load_dataset."
        )
    return source

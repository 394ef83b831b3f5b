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

        settings = load_settings()
        self.db = db
        self.registry = PluginRegistry(db)
        # FiftyOne's own operators, when a FiftyOne interpreter is configured; the registry's
        # plugins take precedence over them.
        self.fiftyone = configured_runtime(settings.fiftyone_python)
        self.cache_dir = settings.home

    def fiftyone_operator(self, uri: str) -> Operator | None:
        """FiftyOne's own operator ``uri`` (a builtin, or from ``FIFTYONE_PLUGINS_DIR``) when the
        registry has no such operator and the FiftyOne runtime has it (and allows delegating it);
        None otherwise. The registry's FiftyOne plugins are the registry's."""
        from fiftyops_provider.plugins.errors import OperatorNotFound, PluginNotFound
        from fiftyops_provider.plugins.fiftyone_plugins import FiftyOneOperator

        if self.fiftyone is None:
            return None
        try:
            self.registry.declared_secrets(uri)
            return None
        except (OperatorNotFound, PluginNotFound):
            info = self.fiftyone.find(uri, self.cache_dir)
        return FiftyOneOperator(info) if info is not None else None

    def load_operator(self, uri: str) -> Operator:
        return self.fiftyone_operator(uri) or self.registry.load_operator(uri)

    def check_runnable(self, uri: str, user: str | None, dataset_id: Any, dataset_name: str | None) -> None:
        """FiftyOne operators are run for whoever FiftyOne queued them for: FiftyOne checked."""
        if self.fiftyone_operator(uri) is None:
            self.registry.check_runnable(uri, user, dataset_id, dataset_name)

    def declared_secrets(self, uri: str) -> list[str]:
        fiftyone = self.fiftyone_operator(uri)
        if fiftyone is not None:
            return list(getattr(fiftyone, "info", {}).get("secrets", []))
        return list(self.registry.declared_secrets(uri))

    def load_dataset(self, dataset_id: Any, dataset_name: str | None) -> Any:
        from fiftyops_provider.datasets.catalog import load_dataset

        return load_dataset(self.db, dataset_id, dataset_name)

    def runnable_operators(self) -> set[str]:
        """The registry's enabled, delegation-capable operators (those of FiftyOne plugins only
        with a FiftyOne interpreter here), and FiftyOne's own delegable operators the registry
        does not have (a disabled registry operator stays unrunnable whatever FiftyOne has)."""
        from fiftyops_provider.plugins.fiftyone_plugins import FIFTYONE_RUNTIME

        installed = self.registry.list_operators(enabled_only=False)
        runnable = {
            info.uri
            for info in installed
            if info.enabled
            and info.delegation_capable
            and (self.fiftyone is not None or info.runtime != FIFTYONE_RUNTIME)
        }
        if self.fiftyone is not None:
            runnable |= self.fiftyone.operator_uris(self.cache_dir) - {info.uri for info in installed}
        return runnable


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

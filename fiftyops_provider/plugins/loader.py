"""Importing a plugin's Python entry and collecting the operators it registers.

Each stored version is imported under its own module name (plugin name + content hash), so two
versions of a plugin can live in one process (a worker running an old operation while an upgrade
lands) without clashing.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from fiftyops_provider.plugins.definition import PluginDefinition
from fiftyops_provider.plugins.errors import InvalidPlugin
from fiftyops_provider.plugins.operator import Operator

_loaded: dict[str, LoadedPlugin] = {}
_lock = threading.Lock()


@dataclass
class LoadedPlugin:
    definition: PluginDefinition
    content_hash: str
    operators: dict[str, Operator] = field(default_factory=dict)


class PluginContext:
    """What the entry's ``register(p)`` receives: ``p.register(OperatorClass)`` adds an operator."""

    def __init__(self, definition: PluginDefinition) -> None:
        self.definition = definition
        self.operators: dict[str, Operator] = {}

    @property
    def name(self) -> str:
        return self.definition.name

    def register(self, operator: type[Operator] | Operator) -> None:
        instance = operator() if isinstance(operator, type) else operator
        if not isinstance(instance, Operator):
            raise InvalidPlugin(f"{self.name}: register() takes Operator subclasses, got {operator!r}.")
        name = instance.config.name
        if name not in self.definition.operators:
            raise InvalidPlugin(
                f"{self.name}: operator {name!r} is not declared in fiftyone.yml `operators` "
                f"(declared: {self.definition.operators}); add it there."
            )
        instance.plugin_name = self.name
        self.operators[name] = instance


def module_name(definition: PluginDefinition, content_hash: str) -> str:
    return f"fiftyops_plugin_{re.sub(r'[^A-Za-z0-9]+', '_', definition.name).strip('_')}_{content_hash[:16]}"


def load_plugin(root: Path, definition: PluginDefinition, content_hash: str) -> LoadedPlugin:
    """Import ``root/py_entry`` once per process and call its ``register(p)``."""
    with _lock:
        if content_hash in _loaded:
            return _loaded[content_hash]
        name = module_name(definition, content_hash)
        entry = root / definition.py_entry
        is_package = entry.name == "__init__.py"
        spec = importlib.util.spec_from_file_location(
            name, entry, submodule_search_locations=[str(entry.parent)] if is_package else None
        )
        if spec is None or spec.loader is None:
            raise InvalidPlugin(f"{definition.name}: cannot import {definition.py_entry}.")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        context = PluginContext(definition)
        try:
            spec.loader.exec_module(module)
            register = getattr(module, "register", None)
            if not callable(register):
                raise InvalidPlugin(f"{definition.name}: {definition.py_entry} has no register(p) function.")
            register(context)
            unregistered = [name for name in definition.operators if name not in context.operators]
            if unregistered:
                raise InvalidPlugin(
                    f"{definition.name}: fiftyone.yml declares {unregistered} but register(p) never registers "
                    "them; register each declared operator or remove it from `operators`."
                )
        except InvalidPlugin:
            _forget(name)
            raise
        except BaseException:
            _forget(name)
            raise InvalidPlugin(
                f"{definition.name}: importing {definition.py_entry} failed; fix the plugin and upload it again.\n"
                + traceback.format_exc()
            ) from None
        loaded = LoadedPlugin(definition, content_hash, context.operators)
        _loaded[content_hash] = loaded
        return loaded


def _forget(name: str) -> None:
    for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
        del sys.modules[key]

"""FiftyOne's own operators (its builtins, and those of ``FIFTYONE_PLUGINS_DIR``) as the registry
shows and governs them.

They are not installed in the registry: the FiftyOne interpreter (``fiftyone_python``) lists them
(``execution.fiftyone_runtime``). So that ``delegate()``, the Trigger form, the CLI, the Management
SDK, the executor, the reaper and the DAG factory resolve them by the one path they use for
installed plugins, each of their plugins reads as a registry document built from that listing,
with what an admin set on top: enabled, minimum role and dataset permission, and the execution
policy FiftyOne's ``OperatorConfig`` lacks (``POLICY_FIELDS``), stored per operator URI in
``fiftyops_fiftyone_operators``. Unset, an operator is enabled and needs the organization's
default role and dataset permission, like a newly installed plugin's operator. A plugin the
registry has installed under the same name is the registry's.
"""

from __future__ import annotations

from typing import Any

from pymongo.database import Database

from fiftyops_provider.access.org_settings import get_organization_settings
from fiftyops_provider.config import load_settings
from fiftyops_provider.plugins.errors import OperatorNotFound
from fiftyops_provider.plugins.fiftyone_plugins import FIFTYONE_RUNTIME, RUNTIME_HINT
from fiftyops_provider.plugins.operator import OperatorConfig
from fiftyops_provider.store.documents import utcnow

FIFTYONE_OPERATORS_COLLECTION = "fiftyops_fiftyone_operators"
# The namespace of the operators FiftyOne ships (``@voxel51/operators``, ``@voxel51/panels``).
FIFTYONE_NAMESPACE = "@voxel51/"


class FiftyOneOperators:
    """FiftyOne's own delegable operators in ``db``'s deployment, as registry documents."""

    def __init__(self, db: Database) -> None:
        from fiftyops_provider.execution.fiftyone_runtime import configured_runtime

        settings = load_settings()
        self.db = db
        self.collection = db[FIFTYONE_OPERATORS_COLLECTION]
        self.runtime = configured_runtime(settings.fiftyone_python)
        self.cache_dir = settings.home

    def plugin_document(self, name: str) -> dict[str, Any] | None:
        """Plugin ``name`` of FiftyOne's own operators, as the registry stores an installed one
        (``builtin`` marks it); None when FiftyOne has no such plugin. Raises
        ``OperatorNotFound`` saying how to configure the runtime when ``name`` is FiftyOne's and
        no FiftyOne interpreter is configured, ``FiftyOneRuntimeError`` when it is broken."""
        if self.runtime is None:
            if name.startswith(FIFTYONE_NAMESPACE):
                raise OperatorNotFound(
                    f"{name}/* are FiftyOne's own operators, which FiftyOps queues and runs only with a FiftyOne "
                    f"interpreter: {RUNTIME_HINT}."
                )
            return None
        return next((doc for doc in self.plugin_documents() if doc["_id"] == name), None)

    def plugin_documents(self) -> list[dict[str, Any]]:
        """Every plugin of FiftyOne's own delegable operators (none without the runtime)."""
        if self.runtime is None:
            return []
        listed = self.runtime.operators(self.cache_dir)
        saved = {doc["_id"]: doc for doc in self.collection.find({"_id": {"$in": [info["uri"] for info in listed]}})}
        defaults = get_organization_settings(self.db)
        plugins: dict[str, dict[str, Any]] = {}
        for info in listed:
            doc = plugins.setdefault(
                info["plugin_name"],
                {
                    "_id": info["plugin_name"],
                    "builtin": True,
                    "runtime": FIFTYONE_RUNTIME,
                    "version": None,
                    "description": "FiftyOne's own operators, run by the FiftyOne interpreter.",
                    "enabled": True,
                    "secrets": [],
                    "operators": {},
                },
            )
            doc["secrets"] = sorted({*doc["secrets"], *info.get("secrets", [])})
            kept = saved.get(info["uri"], {})
            doc["operators"][info["name"]] = {
                "label": info.get("label") or info["name"],
                "description": info.get("description"),
                "config": {**OperatorConfig(name=info["name"]).to_json(), "allow_delegated_execution": True},
                "inputs_schema": info.get("inputs_schema"),
                "delegation_capable": True,
                "enabled": kept.get("enabled", True),
                "minimum_role": kept.get("minimum_role", int(defaults.default_operator_minimum_role)),
                "minimum_dataset_permission": kept.get(
                    "minimum_dataset_permission", int(defaults.default_operator_minimum_dataset_permission)
                ),
                "placement_override": kept.get("placement_override", {}),
                "policy_override": kept.get("policy_override", {}),
            }
        return sorted(plugins.values(), key=lambda doc: doc["_id"])

    def save(self, uri: str, changes: dict[str, Any], admin: str) -> None:
        """Store what an admin set on operator ``uri`` (``enabled``, ``minimum_role``, ...)."""
        self.collection.update_one(
            {"_id": uri}, {"$set": {**changes, "updated_at": utcnow(), "updated_by": admin}}, upsert=True
        )

"""The plugin registry: which plugins are installed, which operators are enabled, who may run them.

Metadata lives in ``fiftyops_plugins`` (one document per plugin, replaced atomically on upgrade),
files in GridFS, code in a local cache per content hash. An install is fully validated (archive
rules, ``fiftyone.yml``, import of the entry, declared operators) before the single write that
makes it visible, so a failed install or upgrade changes nothing and the previous version keeps
running. That write is a compare-and-set on the document's ``revision`` (bumped by every admin
change), so two concurrent first installs cannot both "succeed", and an enable/permission change
made while an upgrade was validating is carried over instead of being overwritten.

The plugin's code is imported for that check in a child process with a time limit
(``validation``), never in the caller: FiftyOps' interpreter for a FiftyOps plugin, the FiftyOne
interpreter (``fiftyone_python``) for a FiftyOne plugin (``fiftyone_plugins``), which is refused
when none is configured. Names that cannot become a unique Airflow DAG id are
refused before any code runs (``dag_factory.naming.dag_id_conflicts``).
"""

from __future__ import annotations

import math
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from fiftyops_provider.access.org_settings import get_organization_settings
from fiftyops_provider.access.permissions import DatasetPermission, Role, parse_dataset_permission, parse_role
from fiftyops_provider.access.users import UserStore
from fiftyops_provider.config import load_settings
from fiftyops_provider.dag_factory.naming import dag_id_conflicts
from fiftyops_provider.plugins.archive import MAX_ARCHIVE_BYTES, content_hash, pack_directory, plugin_root, unpack
from fiftyops_provider.plugins.definition import PluginDefinition, parse_definition
from fiftyops_provider.plugins.errors import (
    InvalidPlugin,
    OperatorDisabled,
    OperatorNotFound,
    PermissionDenied,
    PluginAlreadyInstalled,
    PluginError,
    PluginNotFound,
)
from fiftyops_provider.plugins.fiftyone_builtins import FiftyOneOperators
from fiftyops_provider.plugins.fiftyone_plugins import (
    FIFTYONE_RUNTIME,
    FIFTYOPS_RUNTIME,
    RUNTIME_HINT,
    FiftyOneOperator,
    effective_config,
    plugin_runtime,
)
from fiftyops_provider.plugins.loader import LoadedPlugin, load_plugin
from fiftyops_provider.plugins.operator import PLACEMENT_FIELDS, Operator, OperatorConfig, validate_placement
from fiftyops_provider.plugins.storage import PluginFiles, PluginFilesMissing, materialize
from fiftyops_provider.plugins.validation import validate_plugin
from fiftyops_provider.store.documents import utcnow

PLUGINS_COLLECTION = "fiftyops_plugins"
WRITE_ATTEMPTS = 5  # compare-and-set retries when admins change the same plugin concurrently


@dataclass
class OperatorInfo:
    """What the DAG factory and UIs need to know about an operator, without importing it."""

    uri: str
    plugin_name: str
    name: str
    label: str
    description: str | None
    config: dict[str, Any]
    inputs_schema: dict[str, Any] | None
    enabled: bool
    delegation_capable: bool
    minimum_role: str
    minimum_dataset_permission: str
    plugin_version: str | None
    # Where Airflow runs it: the config's placement with the admin's override on top.
    placement: dict[str, Any] = field(default_factory=dict)
    # Which interpreter runs it: FiftyOps' own, or FiftyOne's (``fiftyone_plugins``).
    runtime: str = FIFTYOPS_RUNTIME


def split_uri(uri: str) -> tuple[str, str]:
    """``@org/plugin/operator`` -> (``@org/plugin``, ``operator``)."""
    if not isinstance(uri, str) or "/" not in uri:
        raise OperatorNotFound(f"{uri!r} is not an operator URI (expected '@org/plugin/operator').")
    plugin, _, operator = uri.rpartition("/")
    return plugin, operator


class PluginRegistry:
    def __init__(self, db: Database, cache_dir: Path | None = None) -> None:
        self.db = db
        self.collection = db[PLUGINS_COLLECTION]
        self.files = PluginFiles(db)
        self.users = UserStore(db)
        self.cache_dir = cache_dir or load_settings().plugin_cache_dir

    # -- installing ----------------------------------------------------------------------------
    def install(self, path: str | Path, overwrite: bool = False, acting_user: str | None = None) -> dict[str, Any]:
        """Install (or with ``overwrite``, upgrade) a plugin from a directory or a .zip file."""
        with self.users.admin_action(acting_user) as admin:
            return self._install(Path(path), overwrite, admin.name)

    def _install(self, path: Path, overwrite: bool, admin: str) -> dict[str, Any]:
        data = self._canonical_archive(path)
        digest = content_hash(data)
        root = materialize(self.cache_dir, digest, lambda: data)
        try:
            definition = parse_definition(root)
            self._check_dag_ids(definition)
            runtime = plugin_runtime(root)
            operators = _validate(root, definition, digest, runtime)
        except InvalidPlugin:
            shutil.rmtree(root, ignore_errors=True)
            raise
        name = definition.name
        existing = self.collection.find_one({"_id": name})
        self._check_not_installed(name, overwrite, existing)
        self.files.put(digest, data, name)
        try:
            for _ in range(WRITE_ATTEMPTS):
                doc = self._plugin_document(definition, digest, operators, existing, admin, runtime)
                if existing is None:
                    try:
                        self.collection.insert_one(doc)
                        written = True
                    except DuplicateKeyError:  # installed concurrently
                        written = False
                else:
                    written = self.collection.replace_one(_same_revision(existing), doc).matched_count == 1
                if written:
                    break
                existing = self.collection.find_one({"_id": name})  # rebuild from the state now stored
                self._check_not_installed(name, overwrite, existing)
            else:
                raise PluginError(f"Plugin {name} kept changing while it was being installed; try again.")
        except BaseException:
            self._drop_unused_files(digest)
            raise
        # An upgrade that raced us may have removed this very archive as "unused": put it back.
        self.files.put(digest, data, name)
        if existing is not None and existing.get("content_hash") != digest:
            self._drop_unused_files(existing.get("content_hash"))
        return self.get_plugin_info(name)

    @staticmethod
    def _check_not_installed(name: str, overwrite: bool, existing: dict | None) -> None:
        if existing is not None and not overwrite:
            raise PluginAlreadyInstalled(name)

    def _canonical_archive(self, path: Path) -> bytes:
        if path.is_dir():
            return pack_directory(path)
        if not path.is_file():
            raise InvalidPlugin(f"{path} does not exist; give a plugin directory or a .zip of one.")
        if path.stat().st_size > MAX_ARCHIVE_BYTES:
            raise InvalidPlugin(f"{path} is larger than {MAX_ARCHIVE_BYTES // (1024 * 1024)} MiB.")
        with tempfile.TemporaryDirectory(prefix="fiftyops-plugin-") as staging:
            unpack(path.read_bytes(), Path(staging))
            return pack_directory(plugin_root(Path(staging)))

    def _load_version(self, digest: str, fetch) -> LoadedPlugin:
        root = materialize(self.cache_dir, digest, fetch)
        try:
            return load_plugin(root, parse_definition(root), digest)
        except InvalidPlugin:
            shutil.rmtree(root, ignore_errors=True)
            raise

    def _check_dag_ids(self, definition: PluginDefinition) -> None:
        """Refuse operator names that would give no valid Airflow DAG id, or the id of another
        installed plugin's operator (``@a/x`` + ``y__z`` and ``@a/x__y`` + ``z`` look alike)."""
        others = [
            f"{doc['_id']}/{operator}"
            for doc in self.collection.find({"_id": {"$ne": definition.name}}, {"operators": 1})
            for operator in doc.get("operators", {})
        ]
        problems = dag_id_conflicts([f"{definition.name}/{op}" for op in definition.operators], others)
        if problems:
            raise InvalidPlugin(f"{definition.name} cannot be installed: {next(iter(problems.values()))}")

    def _plugin_document(
        self,
        definition: PluginDefinition,
        digest: str,
        described: dict[str, dict[str, Any]],
        existing: dict | None,
        admin: str,
        runtime: str,
    ) -> dict[str, Any]:
        """The plugin's registry document, from its definition and its operators as the
        validating child described them (``validation.describe_operator``)."""
        defaults = get_organization_settings(self.db)
        previous = (existing or {}).get("operators", {})
        operators = {}
        for name, description in described.items():
            kept = previous.get(name, {})
            operators[name] = {
                **description,
                "enabled": kept.get("enabled", True),
                "minimum_role": kept.get("minimum_role", int(defaults.default_operator_minimum_role)),
                "minimum_dataset_permission": kept.get(
                    "minimum_dataset_permission", int(defaults.default_operator_minimum_dataset_permission)
                ),
                "placement_override": kept.get("placement_override", {}),
                "policy_override": kept.get("policy_override", {}) if runtime == FIFTYONE_RUNTIME else {},
            }
        now = utcnow()
        return {
            "_id": definition.name,
            "version": definition.version,
            "description": definition.description,
            "author": definition.author,
            "url": definition.url,
            "license": definition.license,
            "tags": definition.tags,
            "secrets": definition.secrets,
            "py_entry": definition.py_entry,
            "runtime": runtime,
            "declared_operators": definition.operators,
            "content_hash": digest,
            "enabled": (existing or {}).get("enabled", True),
            "operators": operators,
            "revision": int((existing or {}).get("revision") or 0) + 1,
            "installed_at": (existing or {}).get("installed_at", now),
            "updated_at": now,
            "installed_by": admin,
        }

    def _drop_unused_files(self, digest: str | None) -> None:
        if digest and self.collection.count_documents({"content_hash": digest}) == 0:
            self.files.delete(digest)

    def uninstall(self, name: str, acting_user: str | None = None) -> None:
        with self.users.admin_action(acting_user):
            doc = self.collection.find_one_and_delete({"_id": name})
            if doc is None:
                raise PluginNotFound(f"Plugin {name} is not installed.")
            self._drop_unused_files(doc.get("content_hash"))

    # -- governing -----------------------------------------------------------------------------
    def _governed(self, name: str) -> dict[str, Any]:
        """Plugin ``name``'s document: the installed plugin's, else that of FiftyOne's own
        operators of that name (``fiftyone_builtins``)."""
        doc = self.collection.find_one({"_id": name}) or FiftyOneOperators(self.db).plugin_document(name)
        if doc is None:
            raise PluginNotFound(f"Plugin {name} is not installed; see list_plugins().")
        return doc

    def set_enabled(self, name: str, enabled: bool, acting_user: str | None = None) -> dict[str, Any]:
        with self.users.admin_action(acting_user):
            update = {"$set": {"enabled": bool(enabled), "updated_at": utcnow()}, "$inc": {"revision": 1}}
            matched = self.collection.update_one({"_id": name}, update).matched_count
            if not matched and self._governed(name).get("builtin"):  # _governed: PluginNotFound if neither
                raise PluginNotFound(
                    f"{name} is FiftyOne's own plugin, not installed here: enable or disable its operators one "
                    "by one (set_operator; fiftyops plugins disable NAME --operator OP)."
                )
            return self.get_plugin_info(name)

    def set_operator(
        self,
        name: str,
        operator: str,
        enabled: bool | None = None,
        minimum_role: Role | str | None = None,
        minimum_dataset_permission: DatasetPermission | str | None = None,
        acting_user: str | None = None,
        execution_timeout: float | None = None,
        on_reset: str | None = None,
        max_attempts: int | None = None,
    ) -> dict[str, Any]:
        """Enable/disable one operator and/or set its minimum role and dataset permission.

        ``execution_timeout`` (seconds), ``on_reset`` ("failed" or "rerun") and ``max_attempts``
        are the execution policy of a FiftyOne operator (whose config declares none), as a
        FiftyOps operator declares it in its ``OperatorConfig``; kept across upgrades. ``name``
        may be a plugin of FiftyOne's own operators (``@voxel51/operators``): their settings are
        kept per operator URI (``fiftyone_builtins``).
        """
        policy = {"execution_timeout": execution_timeout, "on_reset": on_reset, "max_attempts": max_attempts}
        with self.users.admin_action(acting_user) as admin:
            doc = self._governed(name)
            _check_operator(doc, operator)
            changes: dict[str, Any] = {}
            policy = {key: value for key, value in policy.items() if value is not None}
            if policy:
                changes["policy_override"] = _checked_policy(doc, operator, policy)
            if enabled is not None:
                changes["enabled"] = bool(enabled)
            if minimum_role is not None:
                changes["minimum_role"] = int(parse_role(minimum_role))
            if minimum_dataset_permission is not None:
                changes["minimum_dataset_permission"] = int(parse_dataset_permission(minimum_dataset_permission))
            return self._write_operator(doc, operator, changes, admin.name)

    def set_operator_placement(
        self, name: str, operator: str, placement: dict[str, Any], acting_user: str | None = None
    ) -> dict[str, Any]:
        """Override where Airflow runs an operator's operations, over its config's placement.

        :param placement: some of ``queue``, ``pool``, ``priority_weight``, ``executor_config``;
            ``{}`` drops the override. Kept across upgrades of the plugin.
        """
        admin = self.users.require_admin(acting_user)
        try:
            override = validate_placement(placement)
        except ValueError as exc:
            raise InvalidPlugin(f"Placement of {name}/{operator}: {exc}") from None
        doc = self._governed(name)
        _check_operator(doc, operator)
        return self._write_operator(doc, operator, {"placement_override": override}, admin.name)

    def _write_operator(
        self, doc: dict[str, Any], operator: str, changes: dict[str, Any], admin: str
    ) -> dict[str, Any]:
        """Store an admin's ``changes`` to one operator's settings: in its plugin's document, or
        for FiftyOne's own operators by their URI (``fiftyone_builtins``)."""
        name = doc["_id"]
        if doc.get("builtin"):
            FiftyOneOperators(self.db).save(f"{name}/{operator}", changes, admin)
            return self.get_plugin_info(name)
        update = {
            "$set": {
                **{f"operators.{operator}.{key}": value for key, value in changes.items()},
                "updated_at": utcnow(),
            },
            "$inc": {"revision": 1},
        }
        if (
            self.collection.update_one({"_id": name, f"operators.{operator}": {"$exists": True}}, update).matched_count
            == 0
        ):
            raise OperatorNotFound(
                f"Plugin {name} no longer has operator {operator!r} (it was upgraded or removed meanwhile)."
            )
        return self.get_plugin_info(name)

    # -- reading -------------------------------------------------------------------------------
    def get_plugin_info(self, name: str) -> dict[str, Any]:
        """An installed plugin, or FiftyOne's own (``builtin``), with its operators' settings."""
        doc = self._governed(name)
        info = {k: v for k, v in doc.items() if k != "_id"}
        info["name"] = doc["_id"]
        info["runtime"] = doc.get("runtime", FIFTYOPS_RUNTIME)
        info["operators"] = {
            op: {
                **spec,
                "minimum_role": Role(spec["minimum_role"]).name,
                "minimum_dataset_permission": DatasetPermission(spec["minimum_dataset_permission"]).name,
            }
            for op, spec in doc["operators"].items()
        }
        return info

    def list_plugins(self) -> list[dict[str, Any]]:
        return [self.get_plugin_info(doc["_id"]) for doc in self.collection.find({}, {"_id": 1}).sort("_id")]

    def list_operators(self, enabled_only: bool = True) -> list[OperatorInfo]:
        """The installed plugins' operators (FiftyOne's own: ``fiftyone_operators``)."""
        infos = [info for doc in self.collection.find({}).sort("_id") for info in _operator_infos(doc)]
        return [info for info in infos if info.enabled or not enabled_only]

    def fiftyone_operators(self) -> list[OperatorInfo]:
        """FiftyOne's own delegable operators (one DAG each) with their settings, when a FiftyOne
        interpreter is configured; a plugin the registry installed under the same name is the
        registry's. Raises ``FiftyOneRuntimeError`` when the interpreter is broken."""
        documents = FiftyOneOperators(self.db).plugin_documents()
        installed = {doc["_id"] for doc in self.collection.find({"_id": {"$in": [d["_id"] for d in documents]}})}
        return [info for doc in documents if doc["_id"] not in installed for info in _operator_infos(doc)]

    def _operator_spec(self, uri: str) -> tuple[dict[str, Any], dict[str, Any]]:
        plugin_name, operator = split_uri(uri)
        doc = self.collection.find_one({"_id": plugin_name}) or FiftyOneOperators(self.db).plugin_document(plugin_name)
        if doc is None:
            raise OperatorNotFound(
                f"Operator {uri} does not exist: plugin {plugin_name} is not installed (see list_plugins())."
            )
        if operator not in doc.get("operators", {}):
            raise OperatorNotFound(
                f"Operator {uri} does not exist: plugin {plugin_name} has {sorted(doc.get('operators', {}))}; "
                "check the URI."
            )
        return doc, doc["operators"][operator]

    # -- what the executor and delegate() need -------------------------------------------------
    def load_operator(self, uri: str) -> Operator:
        """The operator instance from the exact installed version (fetched from GridFS if this
        machine does not have it yet). An operator of a FiftyOne plugin is not imported here: it
        is a ``FiftyOneOperator`` naming that version's materialized copy, which the FiftyOne
        child runs; one of FiftyOne's own operators names none."""
        for attempt in range(WRITE_ATTEMPTS):
            doc, spec = self._operator_spec(uri)
            if doc.get("builtin"):  # FiftyOne's own: its interpreter finds the code itself
                return FiftyOneOperator(_fiftyone_info(uri, doc, spec))
            digest = doc["content_hash"]
            try:
                if doc.get("runtime") == FIFTYONE_RUNTIME:
                    root = materialize(self.cache_dir, digest, lambda digest=digest: self.files.get(digest))
                    return FiftyOneOperator(_fiftyone_info(uri, doc, spec), root)
                loaded = self._load_version(digest, lambda digest=digest: self.files.get(digest))
            except PluginFilesMissing:
                # An upgrade or uninstall removed this version between our read and the fetch:
                # re-read the plugin and load what is installed now.
                current = self.collection.find_one({"_id": doc["_id"]}, {"content_hash": 1})
                if attempt == WRITE_ATTEMPTS - 1 or (current is not None and current.get("content_hash") == digest):
                    raise
                continue
            return loaded.operators[split_uri(uri)[1]]
        raise AssertionError("unreachable")

    def check_runnable(
        self, uri: str, user: str | None, dataset_id: Any, dataset_name: str | None, *, at_run_time: bool = False
    ) -> None:
        """Raise unless ``user`` may run ``uri`` on that dataset now. A missing user is allowed
        only for operators open to everyone (minimum role GUEST, dataset permission NO_ACCESS).

        :param at_run_time: the executor's re-check as the run starts. A run of FiftyOne's own
            operators with no user was queued by FiftyOne itself (FiftyOps records the user unless
            the operator is open to everyone), which has no FiftyOps users and checked it: then
            only that the operator is enabled counts.
        """
        doc, spec = self._operator_spec(uri)
        if not doc.get("enabled", True):
            raise OperatorDisabled(f"Plugin {doc['_id']} is disabled; an admin can enable it.")
        if not spec.get("enabled", True):
            raise OperatorDisabled(f"Operator {uri} is disabled; an admin can enable it.")
        if not spec.get("delegation_capable"):
            raise OperatorDisabled(f"Operator {uri} does not allow delegated execution.")
        if at_run_time and user is None and doc.get("builtin"):
            return
        min_role, min_perm = Role(spec["minimum_role"]), DatasetPermission(spec["minimum_dataset_permission"])
        account = self.users.get(user)
        if account is None:
            if min_role is Role.GUEST and min_perm is DatasetPermission.NO_ACCESS:
                return
            raise PermissionDenied(f"Unknown user {user!r}: operator {uri} needs role {min_role.name} or higher.")
        if account.role < min_role:
            raise PermissionDenied(
                f"User {account.name} is {account.role.name}; operator {uri} needs {min_role.name} or higher."
            )
        if dataset_id is None and dataset_name:
            dataset_id = self._dataset_id(dataset_name)
        permission = account.dataset_permission(dataset_id)
        if permission < min_perm:
            raise PermissionDenied(
                f"User {account.name} has {permission.name} on dataset {dataset_name or dataset_id}; "
                f"operator {uri} needs {min_perm.name} or higher."
            )

    def _dataset_id(self, name: str) -> str | None:
        """Grants are keyed by dataset id; resolve a name for callers that only have one."""
        from fiftyops_provider.datasets.catalog import DATASETS_COLLECTION

        doc = self.db[DATASETS_COLLECTION].find_one({"name": name}, {"_id": 1})
        return str(doc["_id"]) if doc else None

    def declared_secrets(self, uri: str) -> list[str]:
        doc, _ = self._operator_spec(uri)
        return list(doc.get("secrets") or [])


def _validate(root: Path, definition: PluginDefinition, digest: str, runtime: str) -> dict[str, dict[str, Any]]:
    """The plugin's operators, described by a child of the interpreter its code needs."""
    settings = load_settings()
    if runtime != FIFTYONE_RUNTIME:
        return validate_plugin(
            root, definition, digest, settings.plugin_validation_timeout, settings.child_env_allowlist
        )
    from fiftyops_provider.execution.fiftyone_runtime import configured_runtime

    fiftyone = configured_runtime(settings.fiftyone_python)
    if fiftyone is None:
        raise InvalidPlugin(
            f"{definition.name} is a FiftyOne plugin (its code imports fiftyone) and no FiftyOne interpreter is "
            f"configured: {RUNTIME_HINT}, then install it again."
        )
    return validate_plugin(
        root,
        definition,
        digest,
        settings.plugin_validation_timeout,
        settings.child_env_allowlist,
        command=fiftyone.validation_command(),
        extra_env=fiftyone.child_environment(),
    )


def _checked_policy(doc: dict[str, Any], operator: str, policy: dict[str, Any]) -> dict[str, Any]:
    """The operator's execution policy with ``policy`` on top, refused (``InvalidPlugin``) unless
    it is a FiftyOne plugin's and the values are what an ``OperatorConfig`` accepts."""
    if doc.get("runtime") != FIFTYONE_RUNTIME:
        raise InvalidPlugin(
            f"{doc['_id']}/{operator} declares its execution policy in its OperatorConfig; change it there and "
            "upgrade the plugin (the admin sets it only for FiftyOne operators, which declare none)."
        )
    merged = {**doc["operators"][operator].get("policy_override", {}), **policy}
    timeout = merged.get("execution_timeout")
    try:
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout)
        ):
            raise ValueError(f"execution_timeout must be a finite number of seconds, not {timeout!r}.")
        OperatorConfig(name=operator, **merged)
    except (TypeError, ValueError) as exc:
        raise InvalidPlugin(f"Execution policy of {doc['_id']}/{operator}: {exc}") from None
    return merged


def _check_operator(doc: dict[str, Any], operator: str) -> None:
    if operator not in doc["operators"]:
        raise OperatorNotFound(f"Plugin {doc['_id']} has no operator {operator!r}; it has {sorted(doc['operators'])}.")


def _operator_infos(doc: dict[str, Any]) -> list[OperatorInfo]:
    """The operators of a plugin document (installed, or FiftyOne's own), as listed."""
    infos = []
    for name, spec in sorted(doc["operators"].items()):
        config = effective_config(spec)
        infos.append(
            OperatorInfo(
                uri=f"{doc['_id']}/{name}",
                plugin_name=doc["_id"],
                name=name,
                label=spec["label"] or name,
                description=spec.get("description"),
                config=config,
                inputs_schema=spec.get("inputs_schema"),
                enabled=bool(doc.get("enabled", True) and spec.get("enabled", True)),
                delegation_capable=spec["delegation_capable"],
                minimum_role=Role(spec["minimum_role"]).name,
                minimum_dataset_permission=DatasetPermission(spec["minimum_dataset_permission"]).name,
                plugin_version=doc.get("version"),
                placement={
                    **{k: v for k, v in config.items() if k in PLACEMENT_FIELDS and v is not None},
                    **spec.get("placement_override", {}),
                },
                runtime=doc.get("runtime", FIFTYOPS_RUNTIME),
            )
        )
    return infos


def _fiftyone_info(uri: str, doc: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """What a ``FiftyOneOperator`` of the registry knows of itself."""
    return {
        "uri": uri,
        "plugin_name": doc["_id"],
        "name": split_uri(uri)[1],
        "label": spec.get("label"),
        "description": spec.get("description"),
        "config": effective_config(spec),
        "inputs_schema": spec.get("inputs_schema"),
    }


def _same_revision(doc: dict[str, Any]) -> dict[str, Any]:
    """A filter matching ``doc`` only if nobody changed it since it was read."""
    revision = doc.get("revision")
    return {"_id": doc["_id"], "revision": revision if revision is not None else {"$exists": False}}


def load_operator(uri: str) -> Operator:
    from fiftyops_provider.database import get_database

    return PluginRegistry(get_database()).load_operator(uri)

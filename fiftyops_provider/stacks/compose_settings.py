"""The Airflow settings of ``docker-compose.airflow.yml``, for stacks that run without Docker.

The compose file's ``x-airflow-common`` environment is the one source of the deployment's
settings: the cluster stack reads it, interpolates its ``${VAR:-default}`` references the way
Compose does, and only moves the service addresses (``postgres``, ``redis``, ``mongo``,
``airflow-apiserver``) onto the loopback ports it started them on. A setting added to or changed
in the compose file is therefore exercised by the cluster tests instead of drifting.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import yaml

from fiftyops_provider.stacks.demo import REPO_ROOT

COMPOSE_FILE = REPO_ROOT / "docker-compose.airflow.yml"
COMMON_KEY = "x-airflow-common"
_REFERENCE = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


class ComposeSettingsChanged(RuntimeError):
    """The compose file no longer has a setting the cluster stack maps; update both together."""


def interpolate(value: str, variables: Mapping[str, str]) -> str:
    """Compose's interpolation: ``${VAR}``, ``${VAR:-default}`` (also when VAR is empty), ``$$``."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        found = variables.get(match.group("name"))
        return found if found else (match.group("default") or "")

    return _REFERENCE.sub(replace, value)


def compose_airflow_environment(variables: Mapping[str, str], compose_file: Path = COMPOSE_FILE) -> dict[str, str]:
    """``x-airflow-common``'s environment, interpolated with ``variables``.

    :param variables: the shell variables Compose would see (e.g. ``AIRFLOW_JWT_SECRET``).
    """
    common = yaml.safe_load(compose_file.read_text()).get(COMMON_KEY) or {}
    environment = common.get("environment")
    if not isinstance(environment, dict):
        raise ComposeSettingsChanged(f"{compose_file} has no {COMMON_KEY}.environment mapping.")
    return {str(key): interpolate(str(value), variables) for key, value in environment.items()}


def replica_set_name(mongo_uri: str) -> str:
    """The ``replicaSet`` a MongoDB URI names."""
    names = parse_qs(urlsplit(mongo_uri).query).get("replicaSet")
    if not names:
        raise ComposeSettingsChanged(f"FIFTYOPS_DATABASE_URI {mongo_uri!r} names no replicaSet.")
    return names[0]


def relocate(environment: Mapping[str, str], addresses: Mapping[str, str]) -> dict[str, str]:
    """Move every compose service address in ``environment`` to where it runs here.

    :param addresses: compose ``host:port`` (or bare host, for URLs without a port) -> local
        ``host:port``; e.g. ``{"postgres": "127.0.0.1:5999", "airflow-apiserver:8080": ...}``.
    """
    moved = {}
    for key, value in environment.items():
        if key.startswith("AIRFLOW_CONN_") and value.lstrip().startswith("{"):
            moved[key] = _relocate_connection(key, value, addresses)
        else:
            moved[key] = _relocate_url(value, addresses)
    return moved


def _relocate_url(value: str, addresses: Mapping[str, str]) -> str:
    # Longest first, so "redis:6379" is moved before a bare "redis" could match it.
    for compose_address in sorted(addresses, key=len, reverse=True):
        # A bare host may be followed by its port; a host:port only by the path or query.
        follows = "[/?]" if ":" in compose_address else "[/:?]"
        pattern = rf"(?<=[/@]){re.escape(compose_address)}(?={follows}|$)"
        value = re.sub(pattern, addresses[compose_address], value)
    return value


def _relocate_connection(key: str, value: str, addresses: Mapping[str, str]) -> str:
    """An ``AIRFLOW_CONN_*`` in JSON form: its host and port."""
    connection = json.loads(value)
    compose_address = f"{connection.get('host')}:{connection['port']}" if "port" in connection else None
    local = addresses.get(compose_address or "") or addresses.get(str(connection.get("host")))
    if local is None:
        raise ComposeSettingsChanged(f"{key} points at {connection.get('host')!r}, which the cluster does not run.")
    host, _, port = local.rpartition(":")
    connection["host"], connection["port"] = host, int(port)
    return json.dumps(connection)

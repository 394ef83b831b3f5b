"""The environment an operator's child process gets: an allow-list, never the launcher's whole one.

The launcher is an Airflow task (or ``fiftyops launch``): its environment holds the Airflow
connections (``AIRFLOW_CONN_*``: the MongoDB password, the API password), the metadata database
(``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN``), FiftyOps' own database URI, cloud keys and every other
plugin's secrets. The operator gets only:

* what a process needs to run: ``PATH``, ``HOME``, ``LANG``/``LC_*``, ``TZ``, ``TMPDIR``, the
  proxy variables, the CUDA/GPU variables, ``LD_LIBRARY_PATH``, ``PYTHONPATH`` and FiftyOps'
  non-secret paths (``FIFTYOPS_HOME``, ``FIFTYOPS_PLUGIN_CACHE``);
* what an admin adds: ``FIFTYOPS_CHILD_ENV_ALLOWLIST`` (or ``[fiftyops] child_env_allowlist`` in
  Airflow), comma-separated names, ``NAME*`` for a prefix;
* the secrets its plugin declares (resolved by the executor, passed separately).

Names that hold Airflow's or FiftyOps' own credentials are never passed, even when an admin lists
them or a plugin declares them: ``AIRFLOW*`` and ``FIFTYOPS_DATABASE_*``. The child reaches the
FiftyOps database through the spec the executor sends on its stdin, not through its environment.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

BASE_NAMES = frozenset(
    {
        "PATH",
        "HOME",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TMPDIR",
        "TMP",
        "TEMP",
        "LD_LIBRARY_PATH",
        "PYTHONPATH",
        "FIFTYOPS_HOME",
        "FIFTYOPS_PLUGIN_CACHE",
        "FIFTYOPS_CHILD_START",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "all_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "ALL_PROXY",
    }
)
BASE_PREFIXES = ("LC_", "CUDA_", "NVIDIA_", "ROCR_", "HIP_", "NCCL_", "OMP_", "MKL_")
# Never passed on, whoever asks: Airflow's configuration and connections, FiftyOps' database.
RESERVED = re.compile(r"^(AIRFLOW|FIFTYOPS_DATABASE_)", re.IGNORECASE)


def is_reserved(name: str) -> bool:
    """True for names that hold Airflow's or FiftyOps' own credentials or configuration."""
    return bool(RESERVED.match(name))


def parse_allowlist(value: str | None) -> tuple[str, ...]:
    """``"AWS_REGION, MY_APP_*"`` -> ``("AWS_REGION", "MY_APP_*")``."""
    return tuple(item.strip() for item in (value or "").split(",") if item.strip())


def _allowed(name: str, extra: Iterable[str]) -> bool:
    if name in BASE_NAMES or name.startswith(BASE_PREFIXES):
        return True
    return any(name.startswith(item[:-1]) if item.endswith("*") else name == item for item in extra)


def child_environment(
    parent: Mapping[str, str], secrets: Mapping[str, str], extra_allowed: Iterable[str] = ()
) -> dict[str, str]:
    """The child's environment: the allowed part of ``parent``, then the declared ``secrets``;
    reserved names are left out of both."""
    extra = tuple(extra_allowed)
    env = {name: value for name, value in parent.items() if _allowed(name, extra) and not is_reserved(name)}
    env.update({name: value for name, value in secrets.items() if not is_reserved(name)})
    env["PYTHONUNBUFFERED"] = "1"
    return env

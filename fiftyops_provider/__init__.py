"""FiftyOps: FiftyOne-style delegated operations orchestrated by Apache Airflow.

Importing this package is cheap and imports no Airflow module: Airflow calls
``get_provider_info`` during provider discovery, and the store/plugins/execution layers must run
without Airflow.
"""

from typing import Any

from fiftyops_provider.provider_info import get_provider_info

__all__ = ["delegate", "get_provider_info"]


def __getattr__(name: str) -> Any:
    """``fiftyops_provider.delegate`` is imported on first use, keeping ``import fiftyops_provider``
    (which Airflow does for every provider) free of MongoDB and plugin code."""
    if name == "delegate":
        from fiftyops_provider.plugins.delegate import delegate

        return delegate
    raise AttributeError(f"module 'fiftyops_provider' has no attribute {name!r}")

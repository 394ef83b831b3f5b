"""The provider metadata Airflow reads through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "fiftyops-airflow-provider",
        "name": "FiftyOps",
        "description": "Runs FiftyOne-style delegated operations from a MongoDB operation store as Airflow tasks.",
    }

"""FiftyOps: FiftyOne-style delegated operations orchestrated by Apache Airflow.

Importing this package is cheap and imports no Airflow module: Airflow calls
``get_provider_info`` during provider discovery, and the store/plugins/execution layers must run
without Airflow.
"""

from fiftyops_provider.provider_info import get_provider_info

__all__ = ["get_provider_info"]

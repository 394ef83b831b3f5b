"""Airflow local settings of the FiftyOps image ($AIRFLOW_HOME/config): every Airflow component
imports this at start. Preloading the provider here means the task processes Celery's prefork
workers fork start with it imported (see fiftyops_provider/preload.py)."""

import fiftyops_provider.preload  # noqa: F401

"""Airflow triggers of the FiftyOps provider (they run in the triggerer, so they live in the package)."""

"""Airflow operators of the FiftyOps provider."""

"""Airflow hooks of the FiftyOps provider."""

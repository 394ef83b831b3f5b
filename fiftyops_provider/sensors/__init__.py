"""Airflow sensors of the FiftyOps provider."""

# Airflow 3.3 with the FiftyOps provider installed from this repository (same pinned set as dev/CI).
FROM apache/airflow:3.3.2-python3.11
COPY --chown=airflow:root pyproject.toml README.md constraints.txt /opt/fiftyops/
COPY --chown=airflow:root fiftyops_provider /opt/fiftyops/fiftyops_provider
RUN pip install --no-cache-dir -c /opt/fiftyops/constraints.txt "/opt/fiftyops" "apache-airflow-providers-celery" "apache-airflow-providers-postgres"

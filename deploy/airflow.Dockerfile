# The Airflow image of docker-compose.airflow.yml: the official Airflow 3.3.2 image plus the
# FiftyOps provider (dist fiftyops-airflow-provider) from this repository, installed with the
# repository's constraints.txt (the pinned set dev and CI run). Build context: the repository root.
FROM apache/airflow:3.3.2-python3.11

COPY --chown=airflow:root pyproject.toml README.md constraints.txt /opt/fiftyops/
COPY --chown=airflow:root fiftyops_provider /opt/fiftyops/fiftyops_provider

# The official image already has the Celery, PostgreSQL and Redis providers; naming them keeps
# them installed whatever the constraints move.
RUN pip install --no-cache-dir -c /opt/fiftyops/constraints.txt \
        /opt/fiftyops \
        apache-airflow-providers-celery \
        apache-airflow-providers-postgres

# Every Airflow component imports the provider's task modules at start, so each forked task
# process has them already (fiftyops_provider/preload.py).
COPY --chown=airflow:root deploy/airflow_local_settings.py /opt/airflow/config/airflow_local_settings.py

# Mount point of the airflow-auth volume (the simple auth manager's passwords file): created here
# so the named volume starts owned by the airflow user.
RUN mkdir -p /opt/airflow/auth /opt/airflow/fiftyops

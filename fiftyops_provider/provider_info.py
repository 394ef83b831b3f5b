"""The provider metadata Airflow reads through the ``apache_airflow_provider`` entry point.

Hand-written (a third-party provider needs no provider.yaml); the connection form is declarative
(``conn-fields`` / ``ui-field-behaviour``), as Airflow 3.2+ prefers.
"""

from __future__ import annotations

from typing import Any

INTEGRATION = "FiftyOps"


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "fiftyops-airflow-provider",
        "name": "FiftyOps",
        "description": "Runs FiftyOne-style delegated operations from a MongoDB operation store as Airflow tasks.",
        "integrations": [{"integration-name": INTEGRATION, "tags": ["service"]}],
        "hooks": [
            {
                "integration-name": INTEGRATION,
                "python-modules": ["fiftyops_provider.hooks.fiftyops", "fiftyops_provider.hooks.airflow_api"],
            }
        ],
        "sensors": [
            {"integration-name": INTEGRATION, "python-modules": ["fiftyops_provider.sensors.queued_operation"]}
        ],
        "operators": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "fiftyops_provider.operators.execute_operation",
                    "fiftyops_provider.operators.dispatch_operations",
                ],
            }
        ],
        "triggers": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "fiftyops_provider.triggers.queued_operation",
                    "fiftyops_provider.triggers.operation_dispatch",
                ],
            }
        ],
        "extra-links": ["fiftyops_provider.links.FiftyOpsRunLink"],
        "connection-types": [
            {
                "connection-type": "fiftyops",
                "hook-class-name": "fiftyops_provider.hooks.fiftyops.FiftyOpsHook",
                "hook-name": "FiftyOps",
                "ui-field-behaviour": {
                    "hidden-fields": [],
                    "relabeling": {"schema": "Database", "login": "Username"},
                    "placeholders": {"host": "mongo.example.com", "port": "27017", "schema": "fiftyops"},
                },
                "conn-fields": {
                    "replicaSet": {
                        "label": "Replica set",
                        "description": "Replica set name (change streams need one).",
                        "schema": {"type": ["string", "null"], "default": None},
                    },
                    "tls": {
                        "label": "TLS",
                        "description": "Connect with TLS.",
                        "schema": {"type": ["boolean", "null"], "default": None},
                    },
                    "allow_insecure": {
                        "label": "Allow invalid certificates",
                        "description": "Only with TLS.",
                        "schema": {"type": ["boolean", "null"], "default": None},
                    },
                    "directConnection": {
                        "label": "Direct connection",
                        "description": "Talk to this one server, without replica-set discovery.",
                        "schema": {"type": ["boolean", "null"], "default": None},
                    },
                    "srv": {
                        "label": "SRV (mongodb+srv)",
                        "description": "DNS seed list; leave the port empty.",
                        "schema": {"type": ["boolean", "null"], "default": None},
                    },
                },
            }
        ],
        "config": {
            "fiftyops": {
                "description": "FiftyOps provider settings.",
                "options": {
                    "poll_interval": {
                        "description": "Seconds between checks when change streams are unavailable (or in poke mode).",
                        "version_added": "0.1.0",
                        "type": "float",
                        "example": "5",
                        "default": "5",
                    },
                    "heartbeat_interval": {
                        "description": "Seconds between an operation's heartbeats.",
                        "version_added": "0.1.0",
                        "type": "float",
                        "example": "5",
                        "default": "5",
                    },
                    "reap_interval": {
                        "description": "Longest wait of the dispatcher, while operations run, before it looks for runs "
                        "whose heartbeat is older than 3x heartbeat_interval (their worker died) and applies on_reset.",
                        "version_added": "0.1.0",
                        "type": "float",
                        "example": "60",
                        "default": "60",
                    },
                    "execution_quota": {
                        "description": "Operations running at once: size the `fiftyops` pool the same.",
                        "version_added": "0.1.0",
                        "type": "integer",
                        "example": "4",
                        "default": "4",
                    },
                    "dispatch_ahead": {
                        "description": (
                            "Operations handed to Airflow beyond the pool's slots, so a freed slot is taken at once "
                            "(empty: as many as execution_quota)."
                        ),
                        "version_added": "0.2.0",
                        "type": "integer",
                        "example": "4",
                        "default": "",
                    },
                    "pool": {
                        "description": "The Airflow pool operation tasks run in.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "fiftyops",
                        "default": "fiftyops",
                    },
                    "dispatch_mode": {
                        "description": (
                            "How queued operations reach their runs: 'direct' (the triggerer starts each run through "
                            "the REST API, connection fiftyops_airflow_api), 'sensor' (a deferred sensor and "
                            "TriggerDagRunOperator, no API access needed) or 'asset' (an asset watcher starts the "
                            "sensor's DAG)."
                        ),
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "sensor",
                        "default": "direct",
                    },
                    "child_env_allowlist": {
                        "description": (
                            "Comma-separated environment variable names (NAME* for a prefix) an operator's process "
                            "gets beyond PATH, HOME, locale, TZ, TMPDIR, proxy and GPU variables and its plugin's "
                            "declared secrets. AIRFLOW* and FIFTYOPS_DATABASE_* are never passed."
                        ),
                        "version_added": "0.2.0",
                        "type": "string",
                        "example": "AWS_REGION,MY_APP_*",
                        "default": "",
                    },
                    "base_url": {
                        "description": "Base URL of run links; empty means [api] base_url.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "https://airflow.example.com",
                        "default": "",
                    },
                    "delegation_targets": {
                        "description": (
                            "Comma-separated delegation targets this deployment runs (the first is the one the "
                            "Trigger form sends operations to; empty: FIFTYOPS_DELEGATION_TARGETS, else fiftyops). "
                            "An operation for another target, or with none and an operator this deployment cannot "
                            "run, is left queued for whoever can."
                        ),
                        "version_added": "0.3.0",
                        "type": "string",
                        "example": "fiftyops,gpu-cluster",
                        "default": "",
                    },
                    "fiftyone_python": {
                        "description": (
                            "The Python interpreter of a venv with fiftyone installed: FiftyOne's operators and "
                            "FiftyOne plugins run there (empty: FIFTYOPS_FIFTYONE_PYTHON, else FiftyOne operators "
                            "are not run)."
                        ),
                        "version_added": "0.3.0",
                        "type": "string",
                        "example": "/opt/venv-fiftyone/bin/python",
                        "default": "",
                    },
                },
            }
        },
    }

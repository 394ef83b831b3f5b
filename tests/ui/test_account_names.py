"""The account names FiftyOps reads from the simple auth manager, on every Airflow minor (its
``get_users`` returns dicts on 3.0 and 3.1, user objects from 3.2). No server: the manager reads
``[core] simple_auth_manager_users`` from the configuration."""

from __future__ import annotations

import pytest
from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

from fiftyops_provider.airflow_compat import simple_auth_manager_names


def test_the_simple_auth_manager_s_account_names_are_read_on_this_minor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin,uma:user")
    assert simple_auth_manager_names(SimpleAuthManager()) == {"admin", "uma"}

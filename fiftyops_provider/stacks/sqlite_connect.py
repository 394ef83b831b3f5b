"""SQLite connection arguments for ``airflow standalone``'s metadata database.

SQLite has one write lock, and Python's ``sqlite3`` waits at most 5 s for it before raising
"database is locked". Under a burst (a few hundred runs started at once) some writer holds the lock
longer than that, and the scheduler, which does not retry that error, exits; ``airflow standalone``
does not restart it, so every queued operation would wait for a scheduler that is gone. Waiting up
to ``BUSY_TIMEOUT_SECONDS`` turns those failures into waits. PostgreSQL deployments (the compose
stack) have no such lock and do not use this.

Airflow imports these by name (``[database] sql_alchemy_connect_args`` and its ``_async``
sibling) while it initialises, so this module imports nothing.
"""

BUSY_TIMEOUT_SECONDS = 30.0

SYNC_CONNECT_ARGS = {"timeout": BUSY_TIMEOUT_SECONDS}
"""``sqlite3.connect`` arguments of the scheduler, dag-processor, triggerer and API server."""

ASYNC_CONNECT_ARGS = {"timeout": BUSY_TIMEOUT_SECONDS}
"""The same for the API server's ``aiosqlite`` engine (a dict of its own: Airflow adds keys to
the sync one)."""

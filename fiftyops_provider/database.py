"""Connecting to the operation store's database: the configured URI, or the embedded mongod."""

from __future__ import annotations

import os
import threading
from typing import Any

from pymongo import MongoClient
from pymongo.database import Database

from fiftyops_provider import credential_holders
from fiftyops_provider.config import Settings, load_settings
from fiftyops_provider.stacks.embedded_mongo import EmbeddedMongo

_clients: dict[tuple[str, bool], MongoClient] = {}
_lock = threading.Lock()
# (URI, database name) an operator's child was given by its executor, in place of settings.
_process_database: tuple[str, str] | None = None


def _forget_clients_after_fork() -> None:
    """pymongo clients do not survive a fork: a forked process (an operation's child) starts with
    none, and with a fresh lock (another thread of the parent may have held it)."""
    global _lock
    _lock = threading.Lock()
    _clients.clear()


os.register_at_fork(after_in_child=_forget_clients_after_fork)


def embedded_server(settings: Settings | None = None) -> EmbeddedMongo:
    settings = settings or load_settings()
    return EmbeddedMongo(dbpath=settings.embedded_db_path, port=settings.embedded_port)


def resolve_uri(settings: Settings | None = None) -> str:
    """The MongoDB URI to use; starts (or reuses) the embedded mongod when none is configured."""
    settings = settings or load_settings()
    if settings.database_uri:
        return settings.database_uri
    return embedded_server(settings).start()


def get_client(uri: str, short_lived: bool = False) -> MongoClient:
    """One pooled client per URI and process (pymongo clients are thread-safe and meant to be shared).

    ``short_lived``: for a process that lives for one task or one parse. Its client watches the
    servers by polling (``serverMonitoringMode=poll``, pymongo's advice for short-lived processes)
    unless the URI says how: one monitoring connection per replica-set member instead of two,
    which spares each task start a third of its connections (and the members their set-up).
    A failover is still seen at once: a write the old primary refuses makes the client look again.
    """
    key = (uri, short_lived)
    with _lock:
        client = _clients.get(key)
        if client is None:
            polling = short_lived and "servermonitoringmode" not in uri.lower()
            options: dict[str, Any] = {"serverMonitoringMode": "poll"} if polling else {}
            client = MongoClient(uri, tz_aware=False, serverSelectionTimeoutMS=10_000, **options)
            credential_holders.track(client, credential_holders.forget_mongo_client)
            _clients[key] = client
        return client


def use_process_database(uri: str, name: str) -> None:
    """Make ``get_database()`` return ``name`` on ``uri`` in this process: an operator's child,
    whose environment holds no database settings (the executor sends them on its stdin)."""
    global _process_database
    _process_database = (uri, name)


def get_database(settings: Settings | None = None) -> Database:
    """The FiftyOps database named by ``FIFTYOPS_DATABASE_NAME`` on the resolved server (in an
    operator's child: the one its executor gave it)."""
    if settings is None and _process_database is not None:
        uri, name = _process_database
        return get_client(uri)[name]
    settings = settings or load_settings()
    return get_client(resolve_uri(settings))[settings.database_name]

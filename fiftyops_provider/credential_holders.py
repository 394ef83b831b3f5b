"""Objects that hold a credential, so an operator's forked child can forget every one of them.

A child started by ``fork`` (``FIFTYOPS_CHILD_START=fork``) begins as a copy of its parent's
memory: the parent's settings (the database URI), its hooks (the Airflow connection and its
password) and its MongoDB clients (URI, credentials) would all be reachable by the operator's
code. Each class that holds one registers its instances here with a function that blanks them;
the forked child calls ``forget_all()`` before it runs any plugin code (see
``execution.child_process``). pymongo clients are covered whoever created them: pymongo keeps a
registry of the clients it opened.

Tracking is by weak reference, so it never keeps anything alive, and costs one dict entry per
holder (no scan of the heap at fork time).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

_holders: dict[int, tuple[weakref.ref, Callable[[Any], None]]] = {}
_lock = threading.Lock()


def track(holder: object, forget: Callable[[Any], None]) -> None:
    """Remember ``holder``; ``forget(holder)`` blanks its credentials in an operator's forked child."""
    key = id(holder)

    def drop(_ref: weakref.ref, key: int = key) -> None:
        _holders.pop(key, None)

    with _lock:
        _holders[key] = (weakref.ref(holder, drop), forget)


def forget_all() -> None:
    """Blank every tracked holder and every pymongo client of this process (a forked operator
    child, before the operator runs). The blanked objects are unusable afterwards: only the
    parent, which never gets here, uses them."""
    holders = list(_holders.values())
    _holders.clear()
    for ref, forget in holders:
        holder = ref()
        if holder is not None:
            forget(holder)
    for client in _pymongo_clients():
        forget_mongo_client(client)


def forget_mongo_client(client: Any) -> None:
    """Drop everything a pymongo client holds (URI, credentials, topology, pools). Its sockets
    were already pointed at /dev/null by the fork's descriptor cleanup; the topology and pools
    are freed with it."""
    registry = getattr(type(client), "_clients", None)
    if isinstance(registry, weakref.WeakValueDictionary):
        for key in [key for key, value in list(registry.items()) if value is client]:
            registry.pop(key, None)
    vars(client).clear()


def _pymongo_clients() -> list[Any]:
    from pymongo import AsyncMongoClient, MongoClient

    return [client for cls in (MongoClient, AsyncMongoClient) for client in list(cls._clients.values())]

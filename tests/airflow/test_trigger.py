"""QueuedOperationTrigger against the real mongod: fires on work, stays quiet otherwise."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

from fiftyops_provider.triggers.queued_operation import QueuedOperationTrigger
from tests.airflow.conftest import set_fiftyops_connection


def make(store_conn_id, **kwargs) -> QueuedOperationTrigger:
    return QueuedOperationTrigger(conn_id=store_conn_id, **kwargs)


def fires_within(trigger, timeout: float, during=None) -> float | None:
    """Seconds until the trigger fired (None if it did not within ``timeout``); ``during`` runs in
    a thread after the trigger started watching."""

    async def scenario():
        events = trigger.run()
        task = asyncio.create_task(events.__anext__())
        await asyncio.sleep(0.5)
        started = time.monotonic()
        if during is not None:
            await asyncio.to_thread(during)
        try:
            event = await asyncio.wait_for(task, timeout)
        except TimeoutError:
            return None
        finally:
            await events.aclose()  # closes the trigger's client, as the triggerer does
        assert event.payload == {"status": "ready"}
        return time.monotonic() - started

    return asyncio.run(scenario())


def test_fires_at_once_when_work_is_already_queued(mongod, db, service, store_conn_id):
    service.queue_operation("@o/p/op", initial_state="queued")
    assert fires_within(make(store_conn_id), 5) is not None


def test_fires_within_a_second_of_an_insert(mongod, db, service, store_conn_id):
    trigger = make(store_conn_id)
    elapsed = fires_within(trigger, 10, during=lambda: service.queue_operation("@o/p/op"))
    assert elapsed is not None and elapsed < 1.0
    assert trigger.use_change_stream  # it watched; it did not fall back to polling


class CountingTrigger(QueuedOperationTrigger):
    """Counts its work checks: each one is a wake-up of the change stream (or the first check)."""

    checks = 0

    async def has_work(self, collection):
        self.checks += 1
        return await super().has_work(collection)


def test_heartbeats_and_progress_do_not_wake_it(mongod, db, service, store_conn_id):
    doc = service.queue_operation("@o/p/op", initial_state="queued")
    service.set_running(doc.id)
    trigger = CountingTrigger(conn_id=store_conn_id, reap_interval=60)

    def busy_run():
        for i in range(10):
            service.ping(doc.id)
            service.set_progress(doc.id, i / 10)
            service.set_log_tail(doc.id, f"line {i}")
            time.sleep(0.1)

    assert fires_within(trigger, 2, during=busy_run) is None
    assert trigger.checks == 1  # the check before watching; no write of the running op woke it


def test_a_pick_up_released_through_a_subfield_wakes_it(mongod, db, service, store_conn_id):
    """An update of ``dispatch.at`` (a dotted path in the change event) counts as a work change."""
    doc = service.queue_operation("@o/p/op", initial_state="queued")
    service.pick_up_queued_operations("a dispatcher that died")
    elapsed = fires_within(
        make(store_conn_id),
        10,
        during=lambda: db.delegated_ops.update_one({"_id": doc.id}, {"$set": {"dispatch.at": datetime(2000, 1, 1)}}),
    )
    assert elapsed is not None and elapsed < 1.0


def test_keeps_watching_without_blocking_after_the_collection_is_dropped(mongod, db, service, store_conn_id):
    """A drop ends the change stream; the trigger reopens it instead of spinning on a dead one."""
    service.queue_operation("@o/p/op", initial_state="queued")
    service.pick_up_queued_operations("someone")  # the collection exists, with no work in it

    async def scenario():
        events = QueuedOperationTrigger(conn_id=store_conn_id).run()
        fired = asyncio.create_task(events.__anext__())
        try:
            await asyncio.sleep(0.5)
            await asyncio.to_thread(db.delegated_ops.drop)
            lag = 0.0
            for _ in range(20):  # the loop stays responsive: each 50 ms sleep takes about 50 ms
                started = time.monotonic()
                await asyncio.sleep(0.05)
                lag = max(lag, time.monotonic() - started - 0.05)
            assert not fired.done()
            await asyncio.to_thread(service.queue_operation, "@o/p/op", initial_state="queued")
            await asyncio.wait_for(fired, 5)
            return lag
        finally:
            await events.aclose()

    assert asyncio.run(scenario()) < 0.2


def test_ignores_other_operators_and_targets(mongod, db, service, store_conn_id):
    trigger = make(store_conn_id, operator="@o/p/mine", delegation_target="gpu")
    assert (
        fires_within(
            trigger,
            2,
            during=lambda: (
                service.queue_operation("@o/p/other", delegation_target="gpu", initial_state="queued"),
                service.queue_operation("@o/p/mine", delegation_target="cpu", initial_state="queued"),
            ),
        )
        is None
    )


def test_picked_up_operations_are_not_work(mongod, db, service, store_conn_id):
    service.queue_operation("@o/p/op", initial_state="queued")
    service.pick_up_queued_operations("someone")
    assert fires_within(make(store_conn_id), 2) is None


def test_quiet_while_the_quota_is_full_then_fires_when_a_run_finishes(mongod, db, service, store_conn_id):
    running = service.queue_operation("@o/p/op", initial_state="queued")
    service.set_running(running.id)
    service.queue_operation("@o/p/op")  # scheduled, but quota 1 is used
    trigger = make(store_conn_id, quota=1, reap_interval=60)
    assert fires_within(trigger, 2) is None
    elapsed = fires_within(make(store_conn_id, quota=1), 10, during=lambda: service.set_completed(running.id))
    assert elapsed is not None and elapsed < 1.0


def test_fires_for_a_run_whose_heartbeat_went_stale(mongod, db, service, store_conn_id):
    doc = service.queue_operation("@o/p/op", initial_state="queued")
    service.set_running(doc.id)
    assert fires_within(make(store_conn_id, stale_after=60, reap_interval=0.5), 1.5) is None
    assert fires_within(make(store_conn_id, stale_after=1, reap_interval=0.5), 5) is not None


def test_polling_mode(mongod, db, service, store_conn_id):
    trigger = make(store_conn_id, use_change_stream=False, poll_interval=0.2)
    elapsed = fires_within(trigger, 5, during=lambda: service.queue_operation("@o/p/op", initial_state="queued"))
    assert elapsed is not None and elapsed < 1.0


def test_falls_back_to_polling_on_a_standalone_mongod(tmp_path, service, monkeypatch):
    """A mongod without a replica set cannot open change streams: the trigger polls instead."""
    import subprocess

    from pymongo import MongoClient

    from fiftyops_provider.stacks.embedded_mongo import free_port, mongod_binary

    port = free_port()
    (tmp_path / "standalone").mkdir()
    process = subprocess.Popen(
        [
            str(mongod_binary()),
            "--port",
            str(port),
            "--bind_ip",
            "127.0.0.1",
            "--dbpath",
            str(tmp_path / "standalone"),
            "--wiredTigerCacheSizeGB",
            "0.25",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    uri = f"mongodb://127.0.0.1:{port}/?directConnection=true"
    client = MongoClient(uri, serverSelectionTimeoutMS=20_000)
    try:
        client.admin.command("ping")
        conn_id = set_fiftyops_connection(monkeypatch, "fiftyops_solo", port, "solo")
        trigger = QueuedOperationTrigger(conn_id=conn_id, poll_interval=0.2)
        elapsed = fires_within(
            trigger,
            10,
            during=lambda: client.solo.delegated_ops.insert_one(
                {"operator": "@o/p/op", "run_state": "queued", "dispatch": None}
            ),
        )
        assert elapsed is not None and not trigger.use_change_stream
    finally:
        client.close()
        process.terminate()
        process.wait(20)


def test_serialize_round_trip_carries_the_connection_id_not_its_credentials(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_FIFTYOPS_WITH_PASSWORD", "mongodb://fiftyops:mongo-pw-7f3a@db.example:27017/fiftyops"
    )
    trigger = make("fiftyops_with_password", operator="@o/p/op", quota=3, use_change_stream=False)
    classpath, kwargs = trigger.serialize()
    assert classpath == "fiftyops_provider.triggers.queued_operation.QueuedOperationTrigger"
    assert kwargs["conn_id"] == "fiftyops_with_password" and "uri" not in kwargs
    assert "mongo-pw-7f3a" not in repr(kwargs) and "db.example" not in repr(kwargs)
    assert QueuedOperationTrigger(**kwargs).serialize() == (classpath, kwargs)


def test_event_trigger_announces_each_burst_of_work_once(mongod, db, service, monkeypatch):
    """The asset-watcher variant keeps running: one event per burst, none while nothing changes."""
    from fiftyops_provider.triggers.queued_operation import QueuedOperationEventTrigger

    monkeypatch.setenv(
        "AIRFLOW_CONN_FIFTYOPS_DEFAULT",
        f'{{"conn_type": "fiftyops", "host": "127.0.0.1", "port": {mongod.port}, "schema": "{db.name}",'
        ' "extra": {"directConnection": true}}',
    )
    trigger = QueuedOperationEventTrigger(conn_id="fiftyops_default", reap_interval=60)
    _classpath, kwargs = trigger.serialize()
    assert "uri" not in kwargs and kwargs["conn_id"] == "fiftyops_default"

    async def scenario():
        events = trigger.run()
        try:
            first = asyncio.create_task(events.__anext__())
            await asyncio.sleep(0.5)
            await asyncio.to_thread(
                lambda: [service.queue_operation("@o/p/op", initial_state="queued") for _ in range(3)]
            )
            await asyncio.wait_for(first, 5)
            await asyncio.to_thread(service.pick_up_queued_operations, "dispatcher", 3)  # the dispatcher takes them
            second = asyncio.create_task(events.__anext__())
            await asyncio.sleep(1.5)
            quiet = not second.done()
            await asyncio.to_thread(service.queue_operation, "@o/p/op", initial_state="queued")
            await asyncio.wait_for(second, 5)
            return quiet
        finally:
            await events.aclose()

    assert asyncio.run(scenario()) is True


def test_other_peoples_operations_cost_no_wake_up(store_conn_id, db, service):
    """With routing, an operation for another target, or an untargeted one whose operator has no
    runner here, is filtered out by the change stream itself: the trigger never even checks."""
    trigger = CountingTrigger(conn_id=store_conn_id, reap_interval=60, delegation_targets=["fiftyops"])

    def foreign_work():
        service.queue_operation("@o/p/op", delegation_target="someone-else", initial_state="queued")
        service.queue_operation("@voxel51/operators/clear_sample_field", initial_state="scheduled")

    assert fires_within(trigger, 2, during=foreign_work) is None
    assert trigger.checks == 1  # the check before watching; neither insert woke it
    sent_here = make(store_conn_id, delegation_targets=["fiftyops"])
    assert (
        fires_within(sent_here, 5, during=lambda: service.queue_operation("@o/p/op", delegation_target="fiftyops"))
        is not None
    )


def test_a_plugin_installed_later_makes_its_waiting_operations_work(store_conn_id, db, service, tmp_path, monkeypatch):
    """An untargeted operation nobody here could run becomes work once its plugin is installed:
    the registry change reopens the stream with the new runnable operators."""
    from fiftyops_provider.plugins.registry import PluginRegistry
    from tests.plugins.conftest import write_plugin

    monkeypatch.setenv("FIFTYOPS_USER", "root")
    service.queue_operation("@test/demo/double", initial_state="queued")
    trigger = make(store_conn_id, delegation_targets=["fiftyops"])
    install = lambda: PluginRegistry(db, cache_dir=tmp_path / "cache").install(write_plugin(tmp_path / "demo"))  # noqa: E731
    elapsed = fires_within(trigger, 10, during=install)
    assert elapsed is not None and elapsed < 5.0


def test_serialize_round_trip_keeps_the_delegation_targets(store_conn_id):
    trigger = make(store_conn_id, delegation_targets=["a", "b"])
    assert QueuedOperationTrigger(**trigger.serialize()[1]).delegation_targets == ["a", "b"]

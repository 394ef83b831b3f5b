"""``airflow standalone``'s SQLite metadata database under a burst: a writer that holds the write
lock for longer than sqlite3's default 5 s makes the others wait, not fail. (The scheduler does
not retry "database is locked"; it exited mid-drain of 200 operations before this.)"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time

from fiftyops_provider.stacks.standalone import AirflowStandalone

# Written while the test holds SQLite's write lock; then the async engine's busy timeout.
WRITER = """
import asyncio
from sqlalchemy import text
from airflow import settings
print("ready", flush=True)
with settings.engine.begin() as conn:
    conn.execute(text("INSERT INTO burst VALUES ('scheduler')"))
async def async_timeout():
    async with settings.async_engine.connect() as conn:
        value = (await conn.execute(text("PRAGMA busy_timeout"))).scalar()
    await settings.async_engine.dispose()
    return value
print("async busy_timeout", asyncio.run(async_timeout()), flush=True)
"""
LOCK_HELD_SECONDS = 7.0


def test_an_airflow_write_waits_out_a_lock_held_longer_than_five_seconds(tmp_path):
    env = AirflowStandalone(tmp_path, tmp_path / "dags").environment()
    holder = sqlite3.connect(tmp_path / "airflow.db", isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("CREATE TABLE burst (writer TEXT)")
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO burst VALUES ('holder')")
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout.readline().strip() == "ready", writer.stderr.read()
        time.sleep(LOCK_HELD_SECONDS)
        assert writer.poll() is None, f"the write gave up while the lock was held: {writer.stderr.read()}"
        holder.execute("COMMIT")
        out, err = writer.communicate(timeout=60)
    finally:
        if writer.poll() is None:
            writer.kill()
    assert writer.returncode == 0, err
    assert "async busy_timeout 30000" in out
    assert [row[0] for row in holder.execute("SELECT writer FROM burst")] == ["holder", "scheduler"]

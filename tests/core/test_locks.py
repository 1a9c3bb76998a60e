"""The per-series training lock, on the real server."""

import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from core import locks


def _locked(db, key: str) -> bool:
    return db[locks.LOCKS_COLLECTION].count_documents({"_id": key}) > 0


def test_second_holder_is_refused_with_who_holds_it(mongo_db) -> None:
    token = locks.acquire(mongo_db, "series-a", 3600, "first trainer")
    with pytest.raises(locks.TrainingInProgress, match="already being trained by first trainer"):
        locks.acquire(mongo_db, "series-a", 3600, "second trainer")
    other = locks.acquire(mongo_db, "series-b", 3600)
    locks.release(mongo_db, "series-a", token)
    assert not _locked(mongo_db, "series-a")
    assert _locked(mongo_db, "series-b")
    locks.release(mongo_db, "series-b", other)


def test_release_only_removes_the_owners_lock(mongo_db) -> None:
    token = locks.acquire(mongo_db, "series-a", 3600)
    locks.release(mongo_db, "series-a", "someone-else")
    assert _locked(mongo_db, "series-a")
    locks.release(mongo_db, "series-a", token)


def test_lock_of_a_dead_process_is_broken(mongo_db) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    now = datetime.now(UTC)
    mongo_db[locks.LOCKS_COLLECTION].insert_many(
        [
            {
                "_id": "series-a",
                "owner": "x",
                "host": socket.gethostname(),
                "pid": dead.pid,
                "acquired_at": now,
                "expires_at": now + timedelta(hours=1),
            }
        ]
    )
    token = locks.acquire(mongo_db, "series-a", 3600)
    assert mongo_db[locks.LOCKS_COLLECTION].find_one({"_id": "series-a"})["owner"] == token


def test_expired_lock_is_broken_but_a_live_one_is_not(mongo_db) -> None:
    now = datetime.now(UTC)
    mongo_db[locks.LOCKS_COLLECTION].insert_many(
        [
            {
                "_id": "old",
                "owner": "x",
                "host": "elsewhere",
                "pid": 1,
                "acquired_at": now,
                "expires_at": now - timedelta(seconds=1),
            },
            {
                "_id": "live",
                "owner": "y",
                "host": "elsewhere",
                "pid": 1,
                "acquired_at": now,
                "expires_at": now + timedelta(hours=1),
            },
        ]
    )
    locks.acquire(mongo_db, "old", 3600)
    with pytest.raises(locks.TrainingInProgress):
        locks.acquire(mongo_db, "live", 3600)

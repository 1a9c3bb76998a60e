"""One training per series at a time, across processes and machines, held in MongoDB.

A lock is a document whose `_id` is the series' model name: creating it is atomic on every
server (a second insert of the same `_id` fails with DuplicateKeyError), and releasing it
deletes only the owner's document. Only portable calls are used (insert_many, find,
delete_many), so it works the same on mongod, Atlas and the embedded server. A lock left by a
process that died is broken when its owner is known dead on this host, or when it is older
than TRAINING_LOCK_TTL_SECONDS.
"""

import logging
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from core.errors import Conflict
from core.processes import alive

LOCKS_COLLECTION = "mlts_training_locks"
log = logging.getLogger(__name__)
# Tokens this process holds: a lock of this host and pid whose token is not here was left behind
# (its release failed while Mongo was down) and can be broken.
_HELD: set[str] = set()


class TrainingInProgress(Conflict):
    """Another training of the same series holds the lock; the message says who and since when."""


def _holder(document: dict) -> str:
    since = document.get("acquired_at")
    since_text = since.isoformat() if isinstance(since, datetime) else "an unknown time"
    owner = document.get("owner_label", "another process")
    return f"{owner} (host {document.get('host')}, pid {document.get('pid')}) since {since_text}"


def _is_stale(document: dict, ttl: timedelta, now: datetime) -> bool:
    expires = document.get("expires_at")
    if isinstance(expires, datetime):
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        if expires <= now:
            return True
    if document.get("host") == socket.gethostname():
        pid = document.get("pid")
        if pid == os.getpid():
            return document.get("owner") not in _HELD
        if isinstance(pid, int) and pid > 0:
            return not alive(pid)
    return False


def acquire(db: Database, key: str, ttl_seconds: int, label: str = "training") -> str:
    """Take the lock or raise TrainingInProgress. Returns the owner token for `release`."""
    collection = db[LOCKS_COLLECTION]
    token = uuid.uuid4().hex
    for _ in range(3):
        now = datetime.now(UTC)
        document = {
            "_id": key,
            "owner": token,
            "owner_label": label,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "acquired_at": now,
            "expires_at": now + timedelta(seconds=ttl_seconds),
        }
        try:
            collection.insert_many([document], ordered=False)
            _HELD.add(token)
            return token
        except (DuplicateKeyError, BulkWriteError) as exc:
            if isinstance(exc, BulkWriteError) and not all(
                e.get("code") == 11000 for e in exc.details.get("writeErrors", [])
            ):
                raise
        current = collection.find_one({"_id": key})
        if current is None:
            continue
        if _is_stale(current, timedelta(seconds=ttl_seconds), now):
            collection.delete_many({"_id": key, "owner": current.get("owner")})
            continue
        raise TrainingInProgress(
            f"series {key!r} is already being trained by {_holder(current)}; try again when it ends"
        )
    raise TrainingInProgress(f"could not take the training lock of series {key!r}; try again")


def release(db: Database, key: str, token: str) -> None:
    """Never raises: a lock that cannot be deleted now is broken by the next taker (dead or
    forgotten owner) or expires."""
    _HELD.discard(token)
    try:
        db[LOCKS_COLLECTION].delete_many({"_id": key, "owner": token})
    except PyMongoError as exc:
        log.warning("could not release the training lock of %s (%s); the next training will break it", key, exc)


@contextmanager
def training_lock(db: Database, key: str, ttl_seconds: int, label: str = "training") -> Iterator[str]:
    token = acquire(db, key, ttl_seconds, label)
    try:
        yield token
    finally:
        release(db, key, token)


async def is_locked_async(db: AsyncDatabase, key: str) -> bool:
    return await db[LOCKS_COLLECTION].count_documents({"_id": key}, limit=1) > 0

"""How mlts opens MLflow's SQLite store: write-ahead log, fsync at checkpoints only.

MLflow opens SQLite in its default rollback-journal mode, where every commit waits for the disk
(about 1 ms here, far more on a busy or networked disk) while holding the file's only write
lock, and readers block writers. Every MLflow call that writes is a commit, so a fleet's
threads and Dask workers queue on that lock. In WAL mode readers and the writer no longer block
each other, and with `synchronous=NORMAL` a commit is a write to the log, synced at checkpoints:
a crash of the machine may lose the last commits, never the file. The mode is kept in the file,
so an `mlflow server` or `mlflow ui` on the same store uses it too (`use_wal` sets it before
`mlts up` starts one; such a server syncs each commit, which mlts cannot tune from outside).
"""

import sqlite3
from contextlib import closing
from functools import cache
from pathlib import Path
from typing import Any

_WAL = "PRAGMA journal_mode=WAL"


@cache
def tune_sqlite_connections() -> None:
    """Applies to every SQLAlchemy engine this process opens on a SQLite file (MLflow's, whoever
    creates it); async drivers (Prefect's aiosqlite, which sets its own pragmas) are left alone.
    Once per process."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    event.listen(Engine, "connect", _on_connect)


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        _apply(dbapi_connection, _WAL, "PRAGMA synchronous=NORMAL")


def use_wal(path: Path) -> None:
    """Put the store's file in WAL mode (creating it if new) before a process mlts does not
    configure opens it: the `mlflow server` that `mlts up` starts."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with closing(sqlite3.connect(path, timeout=5)) as connection:
            _apply(connection, _WAL)
    except sqlite3.Error:  # unreadable: the server opens it as it is
        pass


def _apply(connection: sqlite3.Connection, *pragmas: str) -> None:
    try:
        for pragma in pragmas:
            connection.execute(pragma)
    except sqlite3.Error:  # in-memory, or in use by a process switching modes: its default stands
        pass

"""The local MLflow store in WAL mode: set by mlts's client, kept in the file, and readable
read-only by a second process while mlts's connections to it are open (the API's first look)."""

import sqlite3
import subprocess
import sys
from pathlib import Path

from core import registry
from core.settings import get_settings


def test_the_store_mlts_opens_is_in_wal_mode_and_readable_meanwhile(mlflow_store: str) -> None:
    client = registry.client(get_settings())
    client.create_registered_model("wal-check")
    path = Path(mlflow_store.removeprefix("sqlite:///"))
    with sqlite3.connect(path) as plain:  # a new connection, not MLflow's: the mode is the file's
        assert plain.execute("PRAGMA journal_mode").fetchone() == ("wal",)

    reader = "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], uri=True); " + (
        "print(c.execute('SELECT count(*) FROM registered_models').fetchone()[0])"
    )
    client.create_registered_model("wal-check-2")
    seen = subprocess.run(
        [sys.executable, "-c", reader, path.resolve().as_uri() + "?mode=ro"], capture_output=True, text=True, timeout=30
    )
    assert seen.returncode == 0 and seen.stdout.strip() == "2", seen.stderr

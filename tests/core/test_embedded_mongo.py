import os
import signal
from pathlib import Path

import pytest
from pymongo import MongoClient
from pymongo.errors import ServerSelectionTimeoutError

from core.embedded_mongo import EmbeddedMongo, answers_ping, ensure_local_server, local_server, stop_local_server
from core.processes import free_port


def test_background_server_is_started_once_and_reused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    try:
        url = ensure_local_server(home)
        assert answers_ping(url)
        assert ensure_local_server(home) == url
        assert (home / "mongo" / "data").is_dir(), "data lives under MLTS_HOME"
        with MongoClient(url) as client:
            client.db.c.insert_many([{"x": 1}])
    finally:
        assert stop_local_server(home)
    assert local_server(home) is None
    assert not answers_ping(url, timeout_ms=300)
    assert not stop_local_server(home)


def test_data_survives_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with EmbeddedMongo(data) as server, MongoClient(server.url) as client:
        client.db.c.insert_many([{"x": 1}, {"x": 2}])
    with EmbeddedMongo(data) as server, MongoClient(server.url) as client:
        assert client.db.c.count_documents({}) == 2


def test_a_killed_background_server_is_replaced(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = ensure_local_server(home)
    os.kill(local_server(home)["pid"], signal.SIGKILL)
    try:
        second = ensure_local_server(home)
        assert answers_ping(second)
    finally:
        stop_local_server(home)
    assert first.startswith("mongodb://127.0.0.1:")


def test_nothing_listening_is_a_timeout_not_a_hang() -> None:
    url = f"mongodb://127.0.0.1:{free_port()}/"
    assert not answers_ping(url, timeout_ms=200)
    with MongoClient(url, serverSelectionTimeoutMS=200) as client, pytest.raises(ServerSelectionTimeoutError):
        client.admin.command("ping")

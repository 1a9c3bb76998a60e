"""The data layer against a real server over TCP (nx-27017, or MONGODB_URL when set)."""

import asyncio
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from core.mongo import (
    SeriesNotFoundError,
    connect_async,
    read_series,
    read_series_async,
    read_series_between,
    server_status_async,
    to_arrays,
)
from core.series import SeriesSpec

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def _hourly(n: int, sensor: str = "s1", start: datetime = T0) -> list[dict]:
    return [
        {"timestamp": start + timedelta(hours=i), "value": float(i), "additional_features": {"sensor_id": sensor}}
        for i in range(n)
    ]


def test_reads_a_series_sorted_by_time_as_utc(mongo_db) -> None:
    documents = _hourly(50)
    mongo_db.readings.insert_many(list(reversed(documents)))
    frame = read_series(mongo_db, SeriesSpec("readings"))
    series = to_arrays(frame)
    assert len(series.values) == 50
    np.testing.assert_array_equal(series.values, np.arange(50.0))
    assert series.timestamps[0] == np.datetime64("2024-01-01T00:00:00")
    assert series.step_seconds == 3600.0
    assert str(frame["timestamp_utc"].dt.tz) == "UTC"


def test_timestamps_in_every_stored_form_normalise_to_utc(mongo_db) -> None:
    mongo_db.mixed.insert_many(
        [
            {"timestamp": T0, "value": 0.0},  # BSON date
            {"timestamp": "2024-01-01T01:00:00Z", "value": 1.0},  # ISO with Z
            {"timestamp": "2024-01-01T02:00:00", "value": 2.0},  # ISO without zone: UTC
            {"timestamp": "2024-01-01T05:00:00+02:00", "value": 3.0},  # ISO with offset
            {"timestamp": int((T0 + timedelta(hours=4)).timestamp() * 1000), "value": 4.0},  # epoch ms
        ]
    )
    series = to_arrays(read_series(mongo_db, SeriesSpec("mixed")))
    expected = np.array(
        [np.datetime64("2024-01-01T00:00") + np.timedelta64(h, "h") for h in range(5)], dtype="datetime64[ns]"
    )
    np.testing.assert_array_equal(series.timestamps, expected)
    np.testing.assert_array_equal(series.values, np.arange(5.0))


def test_unparseable_and_non_numeric_entries_stay_visible(mongo_db) -> None:
    mongo_db.dirty.insert_many(
        [
            {"timestamp": T0, "value": 1.0},
            {"timestamp": "yesterday", "value": 2.0},
            {"timestamp": T0 + timedelta(hours=1), "value": "abc"},
            {"timestamp": T0 + timedelta(hours=2)},
        ]
    )
    frame = read_series(mongo_db, SeriesSpec("dirty"))
    assert frame["timestamp_utc"].isna().sum() == 1
    assert frame["value_float"].isna().sum() == 2  # "abc" and the missing value
    assert "abc" in frame["value"].tolist()
    assert frame["timestamp_utc"].isna().iloc[-1], "unparseable timestamps sort last"


def test_filters_select_one_sensor(mongo_db) -> None:
    mongo_db.readings.insert_many(_hourly(30, "s1") + _hourly(20, "s2"))
    s2 = read_series(mongo_db, SeriesSpec("readings", filter={"additional_features.sensor_id": "s2"}))
    assert len(s2) == 20
    assert len(read_series(mongo_db, SeriesSpec("readings"))) == 50


def test_limit_keeps_the_most_recent_points_oldest_first(mongo_db) -> None:
    mongo_db.readings.insert_many(_hourly(100))
    series = to_arrays(read_series(mongo_db, SeriesSpec("readings"), limit=10))
    np.testing.assert_array_equal(series.values, np.arange(90.0, 100.0))


@pytest.mark.parametrize(
    ("first", "last", "limit"),
    [(150, 199, 60), (10, 29, 30), (0, 5, 300)],
    ids=["within the newest points", "older than the newest points", "the whole series"],
)
def test_points_between_two_moments_of_one_sensor(mongo_db, first: int, last: int, limit: int) -> None:
    """The newest `limit` points when they reach back far enough, the server's date range when
    they do not: the same points either way, of that sensor only."""
    mongo_db.readings.insert_many(_hourly(200) + _hourly(200, sensor="s2"))
    spec = SeriesSpec("readings", filter={"additional_features.sensor_id": "s1"})
    found = read_series_between(mongo_db, spec, T0 + timedelta(hours=first), T0 + timedelta(hours=last), limit)
    np.testing.assert_array_equal(found.values, np.arange(first, last + 1, dtype=np.float64))
    assert found.timestamps[0] == np.datetime64("2024-01-01T00:00:00") + np.timedelta64(first, "h")


def test_points_between_two_moments_of_a_series_with_text_timestamps(mongo_db) -> None:
    """Text timestamps cannot be ranged by the server: the newest points, cut here."""
    mongo_db.readings.insert_many(
        [{"timestamp": (T0 + timedelta(hours=i)).isoformat(), "value": float(i)} for i in range(100)]
    )
    start, end = T0 + timedelta(hours=90), T0 + timedelta(hours=95)
    found = read_series_between(mongo_db, SeriesSpec("readings"), start, end, 50)
    np.testing.assert_array_equal(found.values, np.arange(90.0, 96.0))


def test_custom_and_nested_field_names(mongo_db) -> None:
    mongo_db.wide.insert_many(
        [{"fecha": T0 + timedelta(days=i), "temperatura": 20.0 + i, "ph": 7.0, "m": {"v": i}} for i in range(5)]
    )
    spec = SeriesSpec("wide", value_field="temperatura", timestamp_field="fecha")
    np.testing.assert_array_equal(to_arrays(read_series(mongo_db, spec)).values, 20.0 + np.arange(5))
    nested = SeriesSpec("wide", value_field="m.v", timestamp_field="fecha")
    np.testing.assert_array_equal(to_arrays(read_series(mongo_db, nested)).values, np.arange(5.0))


def test_a_missing_collection_is_named_with_the_ones_there_are(mongo_db) -> None:
    mongo_db.readings.insert_many(_hourly(3))
    with pytest.raises(SeriesNotFoundError, match=r"'nope' does not exist in database .*collections: readings"):
        read_series(mongo_db, SeriesSpec("nope"))


def test_a_filter_matching_nothing_says_so(mongo_db) -> None:
    mongo_db.readings.insert_many(_hourly(3))
    with pytest.raises(SeriesNotFoundError, match="holds no documents matching"):
        read_series(mongo_db, SeriesSpec("readings", filter={"additional_features.sensor_id": "ghost"}))


def test_async_reader_returns_the_same_series(mongo_db, mongo_url: str) -> None:
    mongo_db.readings.insert_many(_hourly(40))
    spec = SeriesSpec("readings", filter={"additional_features.sensor_id": "s1"})

    async def read() -> pd.DataFrame:
        client = connect_async(mongo_url)
        try:
            return await read_series_async(client[mongo_db.name], spec, limit=12)
        finally:
            await client.close()

    frame = asyncio.run(read())
    expected = read_series(mongo_db, spec, limit=12)
    pd.testing.assert_frame_equal(frame, expected)


def test_async_reader_reports_a_missing_collection(mongo_db, mongo_url: str) -> None:
    async def read() -> None:
        client = connect_async(mongo_url)
        try:
            await read_series_async(client[mongo_db.name], SeriesSpec("nope"))
        finally:
            await client.close()

    with pytest.raises(SeriesNotFoundError, match="does not exist"):
        asyncio.run(read())


def test_server_status_reports_round_trip_and_collections(mongo_db, mongo_url) -> None:
    mongo_db.readings.insert_many(_hourly(2))

    async def status_of():
        client = connect_async(mongo_url)
        try:
            return await server_status_async(client, mongo_db.name)
        finally:
            await client.close()

    status = asyncio.run(status_of())
    assert status["round_trip_ms"] > 0
    assert status["collections"] == ["readings"]
    assert isinstance(status["server_version"], str) and status["server_version"]

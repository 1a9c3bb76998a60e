import io
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from core.demo import COLLECTION, SENSORS, demo_frame, demo_series
from core.ingest import documents_from_frame, ingest_frame, read_csv
from core.mongo import read_series, to_arrays

CSV = """timestamp,value,sensor_id
2024-01-01T00:00:00Z,1.5,a
2024-01-01T01:00:00Z,abc,a
not a date,3.0,a
1704074400000,4.0,a
2024-01-01T03:00:00,,a
2024-01-01T04:00:00+00:00,inf,b
2024-01-01T05:00:00Z,6,b
"""


def test_bad_rows_are_reported_with_their_line_and_never_silently_dropped(mongo_db, tmp_path: Path) -> None:
    path = tmp_path / "readings.csv"
    path.write_text(CSV)
    report = ingest_frame(mongo_db, read_csv(path), "readings")
    assert (report.rows, report.written) == (7, 3)
    reasons = {row.line: row.reason for row in report.rejected}
    assert set(reasons) == {3, 4, 6, 7}
    assert "value 'abc' is not a finite number" in reasons[3]
    assert "timestamp 'not a date' is not a date" in reasons[4]
    assert "value '' is not a finite number" in reasons[6]
    assert "value 'inf'" in reasons[7]
    assert report.written + len(report.rejected) == report.rows
    stored = list(mongo_db.readings.find({}, {"_id": 0}).sort("timestamp", 1))
    assert [d["value"] for d in stored] == [1.5, 4.0, 6.0]
    assert stored[0]["additional_features"] == {"sensor_id": "a"}
    assert stored[1]["timestamp"].isoformat() == "2024-01-01T02:00:00+00:00"  # epoch ms
    indexed = [info["key"] for info in mongo_db.readings.index_information().values()]
    assert [("timestamp", 1)] in indexed and [("additional_features.sensor_id", 1)] in indexed


def test_wide_rows_can_stay_flat(mongo_db, tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("fecha,temperatura,ph,site\n2024-01-01,20.5,7.1,x\n2024-01-02,21.0,7.0,x\n")
    report = ingest_frame(
        mongo_db,
        read_csv(path),
        "wide",
        timestamp_column="fecha",
        value_columns=["temperatura", "ph"],
        features_field=None,
    )
    assert report.written == 2 and not report.rejected
    document = list(mongo_db.wide.find({}, {"_id": 0}).sort("fecha", 1).limit(1))[0]
    assert document == {"fecha": datetime(2024, 1, 1, tzinfo=timezone.utc), "temperatura": 20.5, "ph": 7.1, "site": "x"}


def test_missing_columns_are_named() -> None:
    with pytest.raises(ValueError, match=r"\['timestamp', 'value'\] not found; the columns are \['t', 'v'\]"):
        documents_from_frame(read_csv(io.StringIO("t,v\n1,2\n")))


def test_the_demo_dataset_loads_and_reads_back_per_sensor(mongo_db) -> None:
    frame = demo_frame(days=20)
    report = ingest_frame(mongo_db, frame, COLLECTION, drop=True)
    assert report.written == len(frame) and not report.rejected
    for spec in demo_series():
        series = to_arrays(read_series(mongo_db, spec))
        assert len(series.values) == 20 * 24
        assert series.step_seconds == 3600.0
        sensor = spec.filter["additional_features.sensor_id"]
        np.testing.assert_allclose(series.values, frame.loc[frame.sensor_id == sensor, "value"].to_numpy(dtype=float))


def test_the_demo_dataset_is_deterministic_with_daily_cycles() -> None:
    first, second = demo_frame(), demo_frame()
    assert first.equals(second)
    assert set(first.sensor_id) == set(SENSORS) and len(SENSORS) >= 2
    for sensor in SENSORS:
        values = first.loc[first.sensor_id == sensor, "value"].to_numpy(dtype=float)
        centred = values - values.mean()
        lag24 = np.corrcoef(centred[24:], centred[:-24])[0, 1]
        lag12 = np.corrcoef(centred[12:], centred[:-12])[0, 1]
        assert lag24 > lag12, f"{sensor} should repeat daily"

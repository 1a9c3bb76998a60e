"""The prediction log's documents: a lane's columns (the common one-step request) and the queue's
entries (every other request) must make the same documents for the same forecasts."""

from array import array
from types import SimpleNamespace

import numpy as np
import pytest

from core.monitoring import MILLISECONDS, NUMBERS, request_id, request_ids, unpacked
from ml.calendar_inputs import DAY, Calendar
from ml.forecaster import Hyperparameters, PerceptronForecaster
from ml.intervals import PredictionIntervals
from serving.log_documents import CHALLENGER, CHAMPION, LANE, Lane, grouped, merge

SERIES = {"collection": "c", "value_field": "value"}
SAME = ("model", "version", "role", "series", "issued_at", "first_target_ms", "count", "horizon")
SAME += ("issued_ms", "target_ms")


def _served(version: str, window: int, seed: int) -> SimpleNamespace:
    rng = np.random.default_rng(seed)
    model = PerceptronForecaster(
        Hyperparameters(window_size=window),
        weights=rng.normal(size=window) / window,
        bias=0.1,
        mean=5.0,
        std=2.0,
        intervals=PredictionIntervals(0.9, np.array([-1.5]), np.array([2.0])),
        metadata={"series": SERIES},
    )
    return SimpleNamespace(name="m", version=version, model=model, series=SERIES)


@pytest.mark.parametrize("dated", [False, True], ids=["plain", "challenger reads the calendar"])
def test_a_lane_makes_the_documents_the_queue_makes_for_the_same_forecasts(dated: bool) -> None:
    champion, challenger = _served("1", 6, seed=1), _served("2", 4, seed=2)
    if dated:
        challenger.model.calendar = Calendar.of(DAY, np.array([1.0, 0.5]), 3600.0)
    rng = np.random.default_rng(0)
    lane, entries = Lane(champion, challenger, "p" * 16), []
    for i in range(7):
        window = rng.normal(5, 1, size=9).tolist()
        (value,), (lower,), (upper,) = champion.model.forecast_last(window[-6:], 1)
        issued, target, made = 1_700_000_000.25 + i, 1_700_000_000_000 + 3_600_000 * (7 - i), request_id("p" * 16, i)
        lane.add(issued, target, value, lower, upper, i, window)
        entries.append((("m", "1", CHAMPION, None), SERIES, made, issued, [target], [value], [lower], [upper]))
        entries.append(
            (
                ("m", "2", CHALLENGER, None),
                SERIES,
                made,
                issued,
                [target],
                None,
                challenger.model,
                array("d", window[-4:]),
            )
        )
    from_lane, from_queue = {key[:4]: doc for key, doc in lane.documents().items()}, grouped(entries)
    assert from_lane.keys() == from_queue.keys()
    for key, document in from_queue.items():
        assert request_ids(from_lane[key]) == request_ids(document) and len(document["request_id"]) == 7
        for name in SAME:
            assert from_lane[key][name] == document[name], (key, name)
        for name in ("value", "lower", "upper"):
            expected = pytest.approx(unpacked(document[name], NUMBERS), rel=1e-12)
            assert unpacked(from_lane[key][name], NUMBERS) == expected, (key, name)
    shadow = unpacked(from_lane[("m", "2", CHALLENGER, None)]["value"], NUMBERS)
    first = 1_700_000_000 + 3_600 * 7  # the first entry's target, in seconds
    expected = challenger.model.forecast(np.asarray(entries[1][7]), 1, first if dated else None)[0]
    assert shadow[0] == pytest.approx(expected, rel=1e-12)
    assert (
        unpacked(from_lane[("m", "1", CHAMPION, None)]["target_ms"], MILLISECONDS).min()
        == 1_700_000_000_000 + 3_600_000
    )


def test_a_lane_drops_its_oldest_and_takes_a_newer_one_behind_it() -> None:
    champion, challenger = _served("1", 3, seed=1), _served("2", 2, seed=2)
    older, newer = Lane(champion, challenger, "p" * 16), Lane(champion, challenger, "p" * 16)
    for i in range(5):
        (older if i < 3 else newer).add(float(i), i, float(i), i - 1.0, i + 1.0, i, [float(i)] * 4)
    assert older.drop_oldest(2) == 2 and older.drop_oldest(5) == 1 and len(older) == 0
    older.add(9.0, 9, 9.0, 8.0, 10.0, 9, [9.0, 9.0, 9.0])
    older.extend(newer)
    assert older.ids.tolist() == [9, 3, 4] and older.target.tolist() == [9, 3, 4]
    assert np.frombuffer(older.windows).tolist() == [9.0, 9.0, 3.0, 3.0, 4.0, 4.0]
    merged: dict = {}
    merge(merged, newer.documents())
    merge(merged, older.documents())
    assert merged[("m", "1", CHAMPION, None, LANE, 0)]["count"] == 5
    shadow = merged[("m", "2", CHALLENGER, None, LANE, 0)]
    assert request_ids(shadow) == [request_id("p" * 16, i) for i in (3, 4, 9, 3, 4)]


def test_a_large_lane_becomes_several_documents_that_hold_its_forecasts() -> None:
    """After an outage a lane may hold many forecasts: it is written as documents of a bounded size."""
    champion, challenger = _served("1", 3, seed=1), _served("2", 2, seed=2)
    lane = Lane(champion, challenger, "p" * 16)
    for i in range(7):
        lane.add(10.0 + i, 100 - i, float(i), i - 1.0, i + 1.0, i, [float(i), i + 0.5, i + 0.25])
    whole, parts = lane.documents(), {**lane.documents(0, 3), **lane.documents(3, 10)}
    assert len(whole) == 2 and len(parts) == 4
    for key, document in whole.items():
        pieces = [parts[key], parts[(*key[:-1], 3)]]
        assert [p["count"] for p in pieces] == [3, 4] and min(p["first_target_ms"] for p in pieces) == 94
        assert request_ids(pieces[0]) + request_ids(pieces[1]) == request_ids(document)
        for name in ("issued_ms", "target_ms", "horizon"):
            assert pieces[0][name] + pieces[1][name] == document[name], (key, name)
        for name in ("value", "lower", "upper"):
            joined = unpacked(pieces[0][name] + pieces[1][name], NUMBERS)
            assert joined == pytest.approx(unpacked(document[name], NUMBERS), rel=1e-12), (key, name)

"""Great Expectations validation of loaded series: what passes, and what a failure says."""

import numpy as np

from core.mongo import frame_from_documents
from core.series import SeriesSpec
from pipelines.validation import GAP_MEANING, validate_series
from tests.series_data import documents

SPEC = SeriesSpec("readings")


def _frame(docs: list[dict]):
    return frame_from_documents(docs, SPEC)


def test_clean_series_passes() -> None:
    report = validate_series(_frame(documents(np.arange(100.0))), SPEC, 8, 27)
    assert report.success and report.failures == [] and report.rows == 100
    meanings = [r["expectation_config"]["meta"]["meaning"] for r in report.result["results"]]
    assert report.result["success"] is True and len(meanings) == len(set(meanings)) == 9
    assert GAP_MEANING in meanings  # the step is checked on every series, not only on gappy ones


def test_each_problem_is_named_with_counts_and_examples() -> None:
    docs = documents(np.arange(100.0))
    docs[3]["value"] = float("nan")
    docs[5]["value"] = "abc"
    docs[7]["timestamp"] = docs[6]["timestamp"]
    docs[9]["timestamp"] = "not a date"
    docs[11]["value"] = float("inf")
    del docs[12]["value"]
    report = validate_series(_frame(docs), SPEC, 8, 27, bounds=(0.0, 90.0))
    assert not report.success
    by_meaning = {f["meaning"]: f for f in report.failures}
    assert by_meaning["value field missing, null or NaN"]["unexpected_count"] == 2
    assert by_meaning["value is not a number"]["examples"][0]["value"] == "abc"
    assert by_meaning["value is infinite"]["unexpected_count"] == 1
    assert by_meaning["timestamp cannot be parsed as a date"]["examples"][0]["timestamp"] == "not a date"
    assert by_meaning["duplicate timestamps"]["unexpected_count"] == 2
    assert "value outside the series' bounds [0.0, 90.0]" in by_meaning
    summary = report.summary()
    assert "value is not a number: 1 of 100 rows, e.g. (timestamp=" in summary


def test_too_few_points_names_the_window_and_the_need() -> None:
    report = validate_series(_frame(documents(np.arange(20.0))), SPEC, 8, 27)
    assert [f["meaning"] for f in report.failures] == [
        "too few points (a smaller window_size, or tuning, needs fewer): "
        "window_size=8 plus the holdout needs at least 27"
    ]
    assert "got 20" in report.summary()

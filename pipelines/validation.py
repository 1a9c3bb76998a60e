"""Great Expectations checks that a series can be trained on, with a report people can read.

The suite is built in code (GX Core 1.x, ephemeral context: nothing written to disk) against
the frame `core.mongo.frame_from_documents` makes: the stored `timestamp` and `value` as they
came from Mongo, and their converted columns `timestamp_utc` and `value_float`.
"""

import logging
import math
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.mongo import TIMESTAMP, TIMESTAMP_UTC, VALUE, VALUE_FLOAT
from core.series import SeriesSpec
from ml.sampling import GAP_RATIO, GapPolicy, Sampling, describe_gaps, inspect
from pipelines.environ import ENVIRON_LOCK

log = logging.getLogger(__name__)

NUMERIC_TYPES = ["int", "float", "Int64", "Decimal128", "int64", "float64", "int32", "float32"]
_FINITE = 1.7976931348623157e308
STEPS = "steps_from_previous"
GAP_MEANING = "gaps in the sampling"
_EXAMPLES = 5


class ValidationFailed(ValueError):
    """The series broke one or more expectations; the message lists each with counts and examples."""

    def __init__(self, report: "ValidationReport"):
        super().__init__(report.summary())
        self.report = report


@dataclass
class ValidationReport:
    series: str
    success: bool
    rows: int
    failures: list[dict[str, Any]] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)
    sampling: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        if self.success:
            gaps = self.sampling.get("gaps", 0)
            handled = f", {gaps} gaps left to the gap policy" if gaps else ""
            irregular = self.sampling.get("irregular", 0)
            odd = f", {irregular} spacings off the step" if irregular else ""
            return f"{self.series}: all expectations met on {self.rows} rows{handled}{odd}"
        checked = len(self.result.get("results", []))
        lines = [f"validation of {self.series} failed ({len(self.failures)} of {checked} expectations):"]
        lines += [f"- {failure['message']}" for failure in self.failures]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "series": self.series,
            "success": self.success,
            "rows": self.rows,
            "failures": self.failures,
            "sampling": self.sampling,
            "great_expectations": self.result,
        }


def _too_few(window_size: int | None, min_points: int) -> str:
    """What needs the points: the window, or (None) a tuning's smallest unit."""
    if window_size is None:
        return f"too few points: tuning plus the holdout needs at least {min_points}"
    hint = " (a smaller window_size, or tuning, needs fewer)" if window_size > 1 else ""
    return f"too few points{hint}: window_size={window_size} plus the holdout needs at least {min_points}"


def _suite(
    window_size: int | None, min_points: int, bounds: tuple[float | None, float | None], gap_limit: float | None
) -> Any:
    """Each expectation carries, in its meta, the sentence a failure report shows."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    def add(expectation: Any, meaning: str) -> None:
        expectation.meta = {"meaning": meaning}
        suite.add_expectation(expectation)

    suite = gx.ExpectationSuite(name="mlts-series")
    add(gxe.ExpectColumnValuesToNotBeNull(column=TIMESTAMP), "timestamp field missing or null")
    add(gxe.ExpectColumnValuesToNotBeNull(column=VALUE), "value field missing, null or NaN")
    add(gxe.ExpectColumnValuesToBeInTypeList(column=VALUE, type_list=NUMERIC_TYPES), "value is not a number")
    add(
        gxe.ExpectColumnValuesToBeBetween(column=VALUE_FLOAT, min_value=-_FINITE, max_value=_FINITE),
        "value is infinite",
    )
    add(gxe.ExpectColumnValuesToNotBeNull(column=TIMESTAMP_UTC), "timestamp cannot be parsed as a date")
    add(gxe.ExpectColumnValuesToBeUnique(column=TIMESTAMP_UTC), "duplicate timestamps")
    add(gxe.ExpectColumnValuesToBeIncreasing(column=TIMESTAMP_UTC, strictly=True), "timestamps not strictly increasing")
    add(
        gxe.ExpectTableRowCountToBeBetween(min_value=min_points),
        _too_few(window_size, min_points),
    )
    low, high = bounds
    if low is not None or high is not None:
        add(
            gxe.ExpectColumnValuesToBeBetween(column=VALUE_FLOAT, min_value=low, max_value=high),
            f"value outside the series' bounds [{low}, {high}]",
        )
    if gap_limit is not None:
        add(
            gxe.ExpectColumnValuesToBeBetween(column=STEPS, max_value=gap_limit, strict_max=True),
            GAP_MEANING,
        )
    return suite


def _failure(result: Any, frame: pd.DataFrame) -> dict[str, Any]:
    config = result.expectation_config
    meaning = (config.meta or {}).get("meaning", config.type)
    details = result.result or {}
    column = config.kwargs.get("column")
    entry: dict[str, Any] = {"expectation": config.type, "column": column, "meaning": meaning}
    if "observed_value" in details and "unexpected_count" not in details:
        entry["observed"] = details["observed_value"]
        entry["message"] = f"{meaning} (got {details['observed_value']})"
        return entry
    count = int(details.get("unexpected_count") or 0)
    indexes = list(details.get("unexpected_index_list") or [])[:_EXAMPLES]
    examples = []
    for index in indexes:
        row = frame.loc[index] if index in frame.index else None
        if row is not None:
            examples.append({"timestamp": _plain(row[TIMESTAMP]), "value": _plain(row[VALUE])})
    if not examples:
        examples = [{"value": _plain(v)} for v in (details.get("partial_unexpected_list") or [])[:_EXAMPLES]]
    entry.update(unexpected_count=count, examples=examples)
    shown = ", ".join(_example_text(e) for e in examples)
    entry["message"] = f"{meaning}: {count} of {len(frame)} rows" + (f", e.g. {shown}" if shown else "")
    return entry


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


def _example_text(example: dict[str, Any]) -> str:
    if "timestamp" in example:
        return f"(timestamp={example['timestamp']!r}, value={example['value']!r})"
    return repr(example["value"])


class _Validator:
    """One ephemeral GX context per thread, built once (the build copies `os.environ`, hence the
    lock), with one pandas asset and the suites it has been asked for: building them per series
    cost more than validating."""

    _local = threading.local()

    @classmethod
    def get(cls) -> "_Validator":
        validator = getattr(cls._local, "validator", None)
        if validator is None:
            validator = cls._local.validator = cls()
        return validator

    def __init__(self) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        with ENVIRON_LOCK:
            context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        asset = context.data_sources.add_pandas("mongo").add_dataframe_asset("series")
        self.batches = asset.add_batch_definition_whole_dataframe("all")
        self.suites: dict[tuple, Any] = {}

    def validate(
        self, frame: pd.DataFrame, window_size: int | None, min_points: int, bounds: tuple, gap_limit: float | None
    ) -> Any:
        key = (window_size, min_points, bounds, gap_limit)
        if key not in self.suites:
            self.suites[key] = _suite(window_size, min_points, bounds, gap_limit)
        batch = self.batches.get_batch(batch_parameters={"dataframe": frame})
        return batch.validate(
            self.suites[key], result_format={"result_format": "COMPLETE", "partial_unexpected_count": _EXAMPLES}
        )


def warm_up() -> None:
    """Import Great Expectations (seconds) and build this thread's context ahead of the first series."""
    _Validator.get()


def _typed(raw: pd.Series) -> pd.Series:
    """A stored column of one kind as its numpy type, so GX checks (and fingerprints) it at numpy
    speed; columns mixing kinds stay as stored, where the checks find and quote the odd ones."""
    kind = pd.api.types.infer_dtype(raw, skipna=True)
    if kind in ("floating", "integer", "mixed-integer-float"):
        return raw.astype(np.float64)
    if kind == "datetime":
        return pd.to_datetime(raw, utc=True)
    return raw


def validate_series(
    frame: pd.DataFrame,
    spec: SeriesSpec,
    window_size: int | None,
    min_points: int,
    bounds: tuple[float | None, float | None] = (None, None),
    gaps: GapPolicy = "fail",
    max_gap: int = 6,
) -> ValidationReport:
    """Run the suite on the loaded frame. Never raises for bad data: the report says what failed.

    The sampling is checked too: each point's distance from the one before, in steps (the
    median spacing). With `gaps="fail"` any gap fails; with `interpolate`, gaps longer than
    `max_gap` missing points (the ones it would not fill); `drop_before` keeps the data after the
    last long gap, so nothing fails for gaps."""
    seconds = frame[TIMESTAMP_UTC].astype("datetime64[ns, UTC]").astype("int64").to_numpy() / 1e9
    valid = np.isfinite(seconds) & frame[TIMESTAMP_UTC].notna().to_numpy()
    sampling = inspect(seconds[valid]) if valid.sum() >= 3 else Sampling(float("nan"))
    steps = np.full(len(frame), np.nan)
    if np.isfinite(sampling.step) and sampling.step > 0:
        steps[np.flatnonzero(valid)[1:]] = np.diff(seconds[valid]) / sampling.step
    checked = pd.DataFrame(
        {
            TIMESTAMP: _typed(frame[TIMESTAMP]),
            VALUE: _typed(frame[VALUE]),
            TIMESTAMP_UTC: frame[TIMESTAMP_UTC].astype("datetime64[ns, UTC]"),
            VALUE_FLOAT: frame[VALUE_FLOAT],
            STEPS: steps,
        }
    )
    gap_limit = {"fail": GAP_RATIO, "interpolate": max_gap + GAP_RATIO, "drop_before": None}[gaps]
    outcome = _Validator.get().validate(checked, window_size, min_points, tuple(bounds), gap_limit)
    failures = [_failure(result, checked) for result in outcome.results if not result.success]
    for failure in failures:
        if failure["meaning"] == GAP_MEANING:
            failure["message"] = _gap_message(sampling, gaps, max_gap, gap_limit or GAP_RATIO)
        if failure["meaning"] == "duplicate timestamps" and not spec.filter:
            failure["message"] += (
                "; if the collection holds several series, select one with a filter "
                "such as additional_features.sensor_id=<id>"
            )
    report = ValidationReport(
        series=spec.describe(),
        success=bool(outcome.success),
        rows=len(checked),
        failures=failures,
        result=outcome.to_json_dict(),
        sampling={
            "step_seconds": sampling.step if np.isfinite(sampling.step) else None,
            "gaps": len(sampling.gaps),
            "missing_points": sampling.missing,
            "largest_gap_points": sampling.largest.missing if sampling.largest else 0,
            "irregular": sampling.irregular,
            "policy": gaps,
            "max_gap_points": max_gap,
        },
    )
    log.info(report.summary())
    return report


def _gap_message(sampling: Sampling, gaps: GapPolicy, max_gap: int, limit: float) -> str:
    """The gaps the policy does not deal with, and the settings that would."""
    found = [gap for gap in sampling.gaps if gap.missing + 1 >= limit]
    text = describe_gaps(sampling, found, lambda seconds: pd.Timestamp(seconds, unit="s", tz="UTC").isoformat())
    if gaps == "fail":
        return (
            f"{text}; a window model would read these as consecutive. Set gaps: interpolate (fills gaps of up to "
            f"max_gap_points={max_gap} missing points linearly) or gaps: drop_before (trains on the data after the "
            "last longer gap), or fill the data"
        )
    return f"{text}: longer than max_gap_points={max_gap}; raise it, or set gaps: drop_before"

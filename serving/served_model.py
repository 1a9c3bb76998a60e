"""A version the API serves: the model in memory and what /model/info says of it."""

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from core import registry
from core.settings import Settings
from ml.calendar_inputs import period_name
from ml.forecaster import PerceptronForecaster


@dataclass(frozen=True)
class ServedModel:
    name: str
    version: str
    alias: str | None  # None for a version a request pinned by number
    run_id: str | None
    model: PerceptronForecaster
    promoted_at: str
    loaded_at: float
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    run_url: str | None = None
    counter: Any = None
    described: bool = True  # False until its run's params and metrics are read (after the API is ready)

    @property
    def series(self) -> dict[str, Any] | None:
        """The series it was trained on (collection, fields, filter), as the model JSON records it."""
        return (self.model.metadata or {}).get("series")

    @cached_property
    def ref(self) -> dict[str, Any]:
        """Which version answered, as every answer names it (made once: it never changes; not to be mutated)."""
        return {"name": self.name, "version": self.version, "alias": self.alias, "run_id": self.run_id}

    def info(self) -> dict[str, Any]:
        meta = self.model.metadata or {}
        return {
            **self.ref,
            "window_size": self.model.window_size,
            "series": meta.get("series"),
            "params": self.params,
            "metrics": self.metrics,
            "data_start": meta.get("data_start"),
            "data_end": meta.get("data_end"),
            "trained_at": meta.get("trained_at"),
            "promoted_at": self.promoted_at,
            "run_url": self.run_url,
            "interval_level": self.model.intervals.level if self.model.intervals else None,
            "calendar": _calendar(self.model),
        }


def _calendar(model: Any) -> list[str] | None:
    """The cycles a model reads the phase of (its forecasts need dates), or None."""
    calendar = model.calendar
    return None if calendar is None else sorted({period_name(p) for p in calendar.periods})


def read_run(client: Any, run_id: str | None) -> dict[str, Any]:
    """What /model/info shows of a version's run: its params, metrics and experiment."""
    if not run_id:
        return {"params": {}, "metrics": {}, "experiment_id": None}
    found = client.get_run(run_id)
    return {
        "params": dict(found.data.params),
        "metrics": dict(found.data.metrics),
        "experiment_id": found.info.experiment_id,
    }


def figures(settings: Settings, run: dict[str, Any], run_id: str | None) -> dict[str, Any]:
    """`ServedModel`'s fields from `read_run`'s answer (or the cache's copy of it)."""
    experiment = run.get("experiment_id")
    return {
        "params": run.get("params") or {},
        "metrics": run.get("metrics") or {},
        "run_url": registry.run_url(settings, experiment, run_id) if experiment and run_id else None,
    }

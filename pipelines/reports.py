"""What `retrain_all` shows in the Prefect UI while and after it runs: a progress bar over the
series, and a table of every series' outcome. Artifacts are best effort: a failure to write one
is logged, never fatal to the retraining."""

import logging
from typing import Any

from prefect.artifacts import create_progress_artifact, create_table_artifact, update_progress_artifact

from pipelines.alerts import drift_words

log = logging.getLogger(__name__)


class Progress:
    def __init__(self, total: int, key: str = "retrain-progress"):
        self.total = max(total, 1)
        self.done = 0
        self.artifact_id = None
        try:
            self.artifact_id = create_progress_artifact(0.0, key=key, description=f"Series trained of {total}")
        except Exception:  # noqa: BLE001
            log.warning("could not create the progress artifact", exc_info=True)

    def advance(self, count: int) -> None:
        self.done += count
        if self.artifact_id is None:
            return
        try:
            update_progress_artifact(self.artifact_id, progress=100.0 * self.done / self.total)
        except Exception:  # noqa: BLE001
            log.warning("could not update the progress artifact", exc_info=True)


def summary_artifact(outcomes: list[dict[str, Any]], key: str = "retrain-summary") -> None:
    """One row per series: its decision, holdout RMSE beside the champion's, or why it failed."""
    rows = [
        {
            "model": o.get("model_name"),
            "version": o.get("version") or "",
            "decision": o.get("decision"),
            "rmse": _number(o.get("metrics", {}).get("rmse")),
            "champion rmse": _number(o.get("champion_rmse")),
            "reason or error": o.get("reason") or o.get("error") or "",
        }
        for o in outcomes
    ]
    try:
        create_table_artifact(rows, key=key, description=f"{len(rows)} series retrained")
    except Exception:  # noqa: BLE001
        log.warning("could not create the summary artifact", exc_info=True)


def _number(value: Any) -> str:
    return "" if value is None else f"{value:.6g}"


def monitoring_rows(results: list[dict[str, Any]]) -> list[dict[str, str]]:
    """One row per model: live RMSE beside the holdout's, coverage, matched actuals, drift, action."""
    rows = []
    for result in results:
        champion = (result.get("roles") or {}).get("champion") or {}
        drift = result.get("drift") or {}
        kinds = [kind for kind in ("performance", "data") if (drift.get(kind) or {}).get("detected")]
        rows.append(
            {
                "model": result.get("model", ""),
                "version": champion.get("version", ""),
                "live rmse": _number(champion.get("rmse")),
                "holdout rmse": _number(champion.get("holdout_rmse")),
                "coverage": _number(champion.get("coverage")),
                "n": str(champion.get("n") or 0),
                "drift": " and ".join(kinds) or ("no" if drift else ""),
                "action": result.get("action", ""),
            }
        )
    return rows


def monitoring_line(doc: dict[str, Any]) -> str:
    """A model's findings in the flow's log, in words."""
    champion = doc["roles"].get("champion") or {}
    holdout = _number(champion.get("holdout_rmse")) or "–"
    if not champion.get("n"):
        return f"no actuals yet (holdout RMSE {holdout}), drift {drift_words(doc['drift'])}; action: {doc['action']}"
    coverage = "–" if champion.get("coverage") is None else f"{champion['coverage']:.1%}"
    return (
        f"live RMSE {_number(champion.get('rmse'))} (holdout {holdout}) over {champion['n']} actuals, "
        f"coverage {coverage}, drift {drift_words(doc['drift'])}; action: {doc['action']}"
    )


def monitoring_table(results: list[dict[str, Any]]) -> None:
    try:
        create_table_artifact(
            monitoring_rows(results), key="monitoring-summary", description=f"{len(results)} models monitored"
        )
    except Exception:  # noqa: BLE001
        log.warning("could not create the monitoring artifact", exc_info=True)

"""Who holds the `champion` alias: a new version takes it only when there is no champion, or when
it beats the champion on the same evidence: this training's holdout (the champion re-scored on
it), or with PROMOTION_EVIDENCE=backtest the rolling-origin folds of the training part, on which
both versions are refitted by their own recipes.

Every decision is written as tags on the version and on the run, with both scores and a reason,
so the registry itself says why it looks the way it does. Callers hold the series' training
lock, so no two trainings move the alias at once.
"""

import json
import logging
import math
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np

from core import registry
from core.errors import NotFound
from core.registry import CHALLENGER, PROMOTED, Tag
from core.settings import Settings
from ml.backtest import backtest_refits
from ml.errors import ForecastInputError
from ml.forecaster import PerceptronForecaster
from pipelines import tracking
from pipelines.training import Split, rescore

if TYPE_CHECKING:
    from mlflow import MlflowClient

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    decision: str
    reason: str
    rmse: float
    champion_version: str | None = None
    champion_rmse: float | None = None
    evidence: str = "holdout"
    folds: tuple[dict[str, float], ...] = ()

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


def decide(
    client: "MlflowClient",
    settings: Settings,
    name: str,
    new_version: str,
    new_rmse: float,
    split: Split,
    model: PerceptronForecaster | None = None,
) -> Decision:
    """`rmse` and the tags stay the holdout's whatever the evidence, so versions remain comparable
    in the registry; with backtest evidence the reason and `folds` carry what decided."""
    champion = registry.version_by_alias(client, name, settings.model_alias)
    if champion is None or str(champion.version) == str(new_version):
        return Decision(PROMOTED, f"no {settings.model_alias} yet: version {new_version} is the first", new_rmse)
    try:
        incumbent = registry.load_version(client, champion)
    except Exception as exc:  # noqa: BLE001 - a champion that cannot be loaded, for any reason, loses
        return Decision(
            PROMOTED,
            f"the {settings.model_alias} (version {champion.version}) could not be loaded ({exc}); replacing it",
            new_rmse,
            str(champion.version),
        )
    champion_rmse = rescore(incumbent, split)
    note = ""
    if settings.promotion_evidence == "backtest" and model is not None:
        try:
            return _on_backtest(settings, model, incumbent, str(champion.version), new_rmse, champion_rmse, split)
        except ForecastInputError as exc:
            note = f"no backtest ({exc}), so on the holdout: "
    if not math.isfinite(champion_rmse):
        return Decision(
            PROMOTED,
            f"{note}the {settings.model_alias} (version {champion.version}, window {incumbent.window_size}) "
            "cannot score this holdout",
            new_rmse,
            str(champion.version),
        )
    if new_rmse < champion_rmse:
        reason = (
            f"{note}holdout RMSE {new_rmse:.6g} beats the {settings.model_alias}'s {champion_rmse:.6g} "
            f"(version {champion.version})"
        )
        return Decision(PROMOTED, reason, new_rmse, str(champion.version), champion_rmse)
    reason = (
        f"{note}holdout RMSE {new_rmse:.6g} does not beat the {settings.model_alias}'s {champion_rmse:.6g} "
        f"(version {champion.version}), which stays"
    )
    return Decision(CHALLENGER, reason, new_rmse, str(champion.version), champion_rmse)


def _on_backtest(
    settings: Settings,
    model: PerceptronForecaster,
    incumbent: PerceptronForecaster,
    champion_version: str,
    new_rmse: float,
    champion_rmse: float,
    split: Split,
) -> Decision:
    """Both versions refitted on the same expanding-window folds of the training part (never the
    holdout) and compared on their mean one-step RMSE over the folds."""
    train = split.values[: split.start]
    new, old = backtest_refits(
        [model, incumbent], train, season_length=split.season_length, times=split.seconds[: split.start]
    )
    folds = tuple(
        {"origin": int(origin), "rmse": mine["rmse"], "champion_rmse": theirs["rmse"]}
        for origin, mine, theirs in zip(new.plan.origins, new.folds, old.folds, strict=True)
    )
    won = sum(fold["rmse"] < fold["champion_rmse"] for fold in folds)
    verdict = "beats" if new.rmse < old.rmse else "does not beat"
    reason = (
        f"backtest RMSE {new.rmse:.6g} {verdict} the {settings.model_alias}'s {old.rmse:.6g} "
        f"(version {champion_version}), better on {won} of {len(folds)} folds"
        + ("" if new.rmse < old.rmse else ", which stays")
    )
    decision = PROMOTED if new.rmse < old.rmse else CHALLENGER
    return Decision(decision, reason, new_rmse, champion_version, champion_rmse, "backtest", folds)


def verify_registered(
    client: "MlflowClient", settings: Settings, name: str, version: str, model: PerceptronForecaster, split: Split
) -> tuple[str | None, str | None]:
    """Read the registered artifact back and check it predicts what the trained model does: the
    reason it is unusable (None if it is fine), and where its model JSON is. A version that fails
    this is never promoted."""
    try:
        uri = registry.model_json_uri(client, client.get_model_version(name, version))
        stored = registry.load_model_json(client, uri)
    except Exception as exc:  # noqa: BLE001
        return f"the registered model could not be read back: {exc}", None
    w = model.window_size
    probe = np.lib.stride_tricks.sliding_window_view(split.values[-(w + 9) : -1], w)
    times = split.seconds[-len(probe) :]
    if stored.window_size != w or not np.allclose(
        stored.predict(probe, times), model.predict(probe, times), rtol=1e-9, atol=1e-12
    ):
        return "the registered model does not predict what the trained model predicts", uri
    return None, uri


def apply(
    client: "MlflowClient",
    settings: Settings,
    name: str,
    version: str,
    decision: Decision,
    run_id: str | None,
    by: str,
    model_uri: str | None = None,
) -> None:
    """Move the alias as decided and tag the version (and run) with the decision."""
    tags = {
        Tag.DECISION: decision.decision,
        Tag.REASON: decision.reason,
        Tag.RMSE: _text(decision.rmse),
        Tag.CHAMPION_RMSE: _text(decision.champion_rmse),
        Tag.CHAMPION_VERSION: decision.champion_version or "",
        Tag.EVIDENCE: decision.evidence,
    }
    if decision.folds:
        tags[Tag.BACKTEST] = json.dumps(decision.folds)
    if decision.decision == PROMOTED:
        tags[Tag.PROMOTED_AT] = datetime.now(UTC).isoformat()
        tags[Tag.PROMOTED_BY] = by
    writer = registry.writer(client)
    for key, value in tags.items():
        writer.set_model_version_tag(name, version, key, value)
    if run_id:
        tracking.set_run_tags(client, run_id, tags)
    if decision.decision == PROMOTED:
        writer.set_registered_model_alias(name, settings.model_alias, version)
        at = tags[Tag.PROMOTED_AT]
        registry.record_alias(client, name, settings.model_alias, version, run_id, at, tags[Tag.RMSE], model_uri)
        current = registry.version_by_alias(client, name, settings.challenger_alias)
        if current is not None and current.version == version:
            writer.delete_registered_model_alias(name, settings.challenger_alias)
    elif decision.decision == CHALLENGER:
        writer.set_registered_model_alias(name, settings.challenger_alias, version)
        at = datetime.now(UTC).isoformat()
        registry.record_alias(client, name, settings.challenger_alias, version, run_id, at, tags[Tag.RMSE], model_uri)
    log.info("%s version %s: %s (%s)", name, version, decision.decision, decision.reason)


def _text(value: float | None) -> str:
    return "" if value is None or not math.isfinite(value) else repr(float(value))


def promote_by_hand(client: "MlflowClient", settings: Settings, name: str, version: str) -> Decision:
    """`mlts promote`: a person overrides the rule. The version must exist and load cleanly."""
    from mlflow.exceptions import MlflowException

    try:
        model_version = client.get_model_version(name, version)
    except MlflowException as exc:
        raise NotFound(f"{name} version {version}: {exc.message}") from None
    registry.load_version(client, model_version)  # ModelFormatError: never promote what cannot be served
    champion = registry.version_by_alias(client, name, settings.model_alias)
    decision = Decision(
        PROMOTED,
        "promoted by hand with `mlts promote`",
        float(model_version.tags.get(Tag.RMSE) or "nan"),
        str(champion.version) if champion else None,
        evidence="manual",
    )
    apply(client, settings, name, version, decision, model_version.run_id, by="mlts promote")
    return decision

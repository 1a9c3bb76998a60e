"""What routes share, reached through FastAPI dependencies: the app's state (settings, the model
store, the database, the trainings of this process) and the API key check."""

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from core.settings import Settings
from serving.database import Database
from serving.live import LiveFigures
from serving.model_store import ModelStore
from serving.prediction_log import PredictionLog
from serving.training import Trainings


@dataclass(frozen=True)
class AppState:
    settings: Settings
    store: ModelStore
    database: Database
    trainings: Trainings
    log: PredictionLog
    live: LiveFigures


def app_state(request: Request) -> AppState:
    """Also called directly by the raw-body routes, which solve no dependencies (see routes/forecast.py)."""
    return request.app.state.mlts


StateDep = Annotated[AppState, Depends(app_state)]


def require_api_key(
    state: StateDep,
    x_api_key: Annotated[str | None, Header(description="Required when API_KEY is set.")] = None,
) -> None:
    expected = state.settings.api_key
    if expected is None:
        return
    if x_api_key is None or not hmac.compare_digest(x_api_key.encode(), expected.get_secret_value().encode()):
        raise HTTPException(
            401, "missing or wrong API key: send it in the X-API-Key header", {"WWW-Authenticate": "X-API-Key"}
        )


ApiKey = Depends(require_api_key)

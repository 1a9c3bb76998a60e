"""`/database/test` and `/collections`: what the API's MongoDB holds, and whether it answers."""

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from core.errors import NotFound
from core.mongo import server_status_async
from core.series import FIELD_PATH_PATTERN, MAX_NAME, NAME_PATTERN
from serving.bodies import json_response
from serving.deps import StateDep
from serving.schemas import errors

router = APIRouter(tags=["database"])
_INTERNAL = ("system.", "mlts_")


@router.get("/database/test", summary="Round trip to MongoDB: version, latency, collections", responses=errors(503))
async def database_test(state: StateDep) -> Response:
    database = state.database
    with database.answering():
        status = await server_status_async(await database.connect(), state.settings.mongodb_database)
    status["collections"] = [c for c in status["collections"] if not c.startswith(_INTERNAL)]
    return json_response({"status": "connected", "url": database.where(), **status})


@router.get("/collections", summary="Collections and their document counts", responses=errors(503))
async def collections(state: StateDep) -> Response:
    with state.database.answering():
        db = await state.database.db()
        names = sorted(n for n in await db.list_collection_names() if not n.startswith(_INTERNAL))
        counts = [await db[name].estimated_document_count() for name in names]
    return json_response(
        {
            "database": state.settings.mongodb_database,
            "collections": [{"name": n, "count": c} for n, c in zip(names, counts)],
        }
    )


@router.get(
    "/collections/{name}/info",
    summary="What a collection holds: count, time range, fields, sensors",
    responses=errors(404, 422, 503),
)
async def collection_info(
    state: StateDep,
    name: Annotated[str, Path(min_length=1, max_length=MAX_NAME, pattern=NAME_PATTERN)],
    timestamp_field: Annotated[str, Query(pattern=FIELD_PATH_PATTERN)] = "timestamp",
) -> Response:
    with state.database.answering():
        db = await state.database.db()
        if name not in await db.list_collection_names():
            raise NotFound(f"collection {name!r} does not exist in database {state.settings.mongodb_database!r}")
        collection = db[name]
        count = await collection.count_documents({})
        first = await collection.find({}, {"_id": 0}).sort(timestamp_field, 1).limit(1).to_list(1)
        last = await collection.find({}, {"_id": 0, timestamp_field: 1}).sort(timestamp_field, -1).limit(1).to_list(1)
        sensors = await collection.distinct("additional_features.sensor_id")
    return json_response(
        {
            "name": name,
            "count": count,
            "first_timestamp": _stamp(first, timestamp_field),
            "last_timestamp": _stamp(last, timestamp_field),
            "fields": sorted(first[0]) if first else [],
            "sensor_ids": sorted(str(s) for s in sensors),
        }
    )


def _stamp(documents: list[dict], timestamp_field: str) -> str | None:
    """The timestamp of the one document found, as ISO-8601 UTC, however it is stored."""
    if not documents or timestamp_field.split(".")[0] not in documents[0]:
        return None
    import pandas as pd

    from core.timestamps import to_utc

    value = pd.json_normalize(documents).get(timestamp_field)
    converted = to_utc(value.astype(object)) if value is not None else None
    return None if converted is None or converted.isna().all() else converted.iloc[0].isoformat()

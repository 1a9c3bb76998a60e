"""`mlts demo`: the main job end to end on the embedded defaults, then the API to try."""

import json
from typing import Annotated, Any

import typer

from core import demo as demo_data
from core import stack
from core.masking import mask_url
from core.settings import get_settings
from core.training_config import TrainingConfig
from mlts.console import console, reported, where_to_look
from mlts.training import print_summary


def demo(
    days: Annotated[int, typer.Option(min=10, help="Days of demo data.")] = 60,
    serve_api: Annotated[
        bool, typer.Option("--serve/--no-serve", help="End by starting the API in the background.")
    ] = True,
) -> None:
    """Load the demo data into MongoDB (the embedded server unless MONGODB_URL is set), train every
    sensor through the `retrain_all` flow, register and promote the models, then start the API in
    the background, send it one prediction and print the commands to try."""
    from core.ingest import ingest_frame
    from core.mongo import connect, database_url
    from pipelines.flows import retrain_all

    settings = get_settings()
    with reported(settings):
        url = database_url(settings)
        console.print(f"MongoDB: {mask_url(url)}  database: {settings.mongodb_database}")
        db = connect(url, settings.mongodb_timeout_ms)[settings.mongodb_database]
        report = ingest_frame(db, demo_data.demo_frame(days), demo_data.COLLECTION, drop=True)
        console.print(
            f"seeded {report.written} readings into {demo_data.COLLECTION} ({len(demo_data.SENSORS)} sensors)"
        )
        summary = retrain_all(series=[TrainingConfig(**spec.to_dict()) for spec in demo_data.demo_series()])
    print_summary(summary)
    where_to_look(settings)
    if summary["failed"]:
        raise typer.Exit(1)
    if serve_api:
        with reported(settings):
            api = stack.start(settings, "api", port=settings.port)
            loaded = stack.wait_until_serving(api.url, len(summary["promoted"]), settings.model_refresh_seconds + 15)
        url = api.url
        console.print(f"\nmlts API running in the background at {url} (log: {api.log})")
        if not loaded:
            console.print("(it has not loaded the new models yet: it checks the registry every MODEL_REFRESH_SECONDS)")
        for service in stack.status(settings):
            if service.ui and service.name != "api":
                console.print(f"{service.name} UI: {service.ui}", highlight=False)
        frame = demo_data.demo_frame(days)
        recent = frame[frame["sensor_id"] == "temp_office"].tail(48)
        sample = {
            "data": [{"timestamp": t, "value": float(v)} for t, v in zip(recent["timestamp"], recent["value"])],
            "horizon": 3,
            "model": demo_data.demo_series()[0].model_name,
        }
        _show_api(url, sample)


def _show_api(url: str, sample: dict[str, Any]) -> None:
    import httpx

    answer = httpx.post(f"{url}/predict", json=sample, timeout=30)
    console.print(f"\nPOST {url}/predict  ({len(sample['data'])} points of {sample['model']}) →", highlight=False)
    body = answer.json()
    console.print_json(json.dumps({k: body[k] for k in ("prediction", "predictions", "model") if k in body} or body))
    one_series = json.dumps({"collection_name": "sensor_readings", "filter": _sensor("temp_office"), "horizon": 6})
    train_one = json.dumps({"collection_name": "sensor_readings", "filter": _sensor("power_plant")})
    console.print(
        "\nTry it:\n"
        f"  open {url}/docs\n"
        f"  curl -s {url}/health\n"
        f"  curl -s {url}/model/info\n"
        f"  curl -s -X POST {url}/predict -H 'Content-Type: application/json' \\\n"
        f"       -d '{one_series}'\n"
        f"  curl -s -X POST {url}/train -H 'Content-Type: application/json' \\\n"
        f"       -d '{train_one}'\n"
        "  mlts monitor                # how the forecasts served so far turned out, once their actuals arrive\n"
        f"  open {url}/monitoring  (and {url}/reports/<model> after `mlts monitor`)\n"
        "Stop everything with `mlts down` (or only the API with `mlts serve --stop`).",
        highlight=False,
    )


def _sensor(sensor_id: str) -> dict[str, str]:
    return {"additional_features.sensor_id": sensor_id}

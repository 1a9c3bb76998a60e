"""What can be checked of the Docker image and the compose stack without a Docker engine."""

import re
from pathlib import Path

import yaml

from core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
OURS = ("mlflow", "prefect", "scheduler", "api", "seed")
# Variables read by the libraries the image runs, not by mlts' settings.
THIRD_PARTY = {
    "PREFECT_API_URL",
    "PREFECT_API_DATABASE_CONNECTION_URL",
    "PREFECT_SERVER_API_HOST",
    "PREFECT_SERVER_API_PORT",
    "PREFECT_UI_API_URL",
    "PREFECT_SERVER_ANALYTICS_ENABLED",
    "PREFECT_HOME",
    # read by the service's own command line (see its `command`)
    "MLFLOW_BACKEND_STORE_URI",
    "MLFLOW_ARTIFACTS_DESTINATION",
    "MLFLOW_PORT",
    "MLFLOW_ALLOWED_HOSTS",
    "RETRAIN_CRON",
    # read by the MLflow server's webhook delivery
    "MLFLOW_WEBHOOK_ALLOWED_SCHEMES",
    "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS",
    "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY",
}


def test_every_service_has_its_image_healthcheck_and_volume() -> None:
    assert set(SERVICES) == {"mongo", "postgres", "mlflow", "prefect", "scheduler", "api", "seed"}
    assert SERVICES["mongo"]["image"].startswith("mongo:")
    assert SERVICES["postgres"]["image"].startswith("postgres:")
    for name in OURS:
        assert SERVICES[name]["build"] == "." and SERVICES[name]["image"].startswith("${MLTS_IMAGE")
    for name, service in SERVICES.items():
        if name != "seed":
            assert "healthcheck" in service, name
        assert service.get("volumes"), name
        for volume in service["volumes"]:
            source = volume.split(":")[0]
            assert source in COMPOSE["volumes"] or source.startswith("./"), (name, volume)
    assert SERVICES["seed"]["profiles"] == ["demo"]


def test_ports_commands_and_dependencies_are_as_documented() -> None:
    assert SERVICES["api"]["ports"] == ["8000:8000"] and SERVICES["api"]["command"] == ["mlts", "serve"]
    assert SERVICES["mlflow"]["ports"] == ["5000:5000"] and "mlflow server" in " ".join(SERVICES["mlflow"]["command"])
    assert SERVICES["prefect"]["ports"] == ["4200:4200"] and SERVICES["prefect"]["command"][:3] == [
        "prefect",
        "server",
        "start",
    ]
    assert "mlts schedule --cron" in SERVICES["scheduler"]["command"][-1]
    assert "mlts seed --demo" in SERVICES["seed"]["command"][-1]
    for name in ("api", "scheduler", "seed"):
        needs = SERVICES[name]["depends_on"]
        assert {"mongo", "mlflow", "prefect"} <= set(needs), name
        assert all(d["condition"] == "service_healthy" for d in needs.values())
    assert SERVICES["mlflow"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "postgresql://" in SERVICES["mlflow"]["environment"]["MLFLOW_BACKEND_STORE_URI"]
    assert "postgresql+asyncpg://" in SERVICES["prefect"]["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"]


def test_environment_passed_to_mlts_matches_the_settings() -> None:
    known = set(Settings.environment_variables())
    for name in OURS:
        for variable in SERVICES[name]["environment"]:
            assert variable in known or variable in THIRD_PARTY, f"{name}: {variable} is not a setting"


def test_env_example_holds_every_variable_the_stack_reads() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    read = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", text))
    example = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^#?\s*([A-Z_][A-Z0-9_]*)=", example, flags=re.MULTILINE))
    assert read - listed == set()
    required = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*):\?", text))
    assert required == {"MONGO_ROOT_PASSWORD", "POSTGRES_PASSWORD", "API_KEY"}


def test_dockerfile_is_multi_stage_non_root_with_healthcheck_from_the_lock() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM python:3\.11-slim AS \w+", dockerfile, flags=re.MULTILINE)) == 2
    assert "pip install -r /tmp/requirements.lock" in dockerfile
    assert dockerfile.index("COPY requirements.lock") < dockerfile.index("COPY ml ")
    user = re.findall(r"^USER (\S+)", dockerfile, flags=re.MULTILINE)
    assert user and user[-1] not in ("root", "0")
    assert "HEALTHCHECK" in dockerfile and "/health" in dockerfile and "PORT" in dockerfile
    assert not re.search(r"(API_KEY|PASSWORD|SECRET)\s*=", dockerfile)
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".mlts", ".venv", "tests", ".env", ".git"} <= set(ignored)

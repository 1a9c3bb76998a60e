"""Cold commands: `mlts train` of a 200-point series as a person types it, with the local stack
up (the run goes to the stack's warm API) and without (`--local`: imports, and Prefect's
temporary server, in the command itself). `python -m bench.cold`."""

import os
import subprocess
import time

from bench.common import BIN, WORK, frame_of, synthetic
from bench.report import Report, run_alone


def _shell(home: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PREFECT_", "MLTS_", "MPL"))}
    return {**env, "MLTS_HOME": home}


def _timed(env: dict[str, str], *args: str) -> float:
    started = time.perf_counter()
    done = subprocess.run([str(BIN / "mlts"), *args], env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"mlts {' '.join(args)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return time.perf_counter() - started


def run(report: Report) -> None:
    env = _shell(str(WORK / "stack-home"))
    csv = WORK / "cold.csv"
    frame_of(synthetic(200, seed=3), sensor="cold").to_csv(csv, index=False)
    train = ["train", "--collection", "cold", "--window-size", "12", "--json"]
    rows = []
    try:
        up = _timed(env, "up")
        _timed(env, "seed", "--csv", str(csv), "--collection", "cold", "--drop")
        first, second = _timed(env, *train), _timed(env, *train)
        local = _timed(env, *train, "--local")
        rows = [
            ["mlts up (Mongo, MLflow, Prefect, API)", f"{up:.1f}"],
            ["mlts train, stack up, first", f"{first:.1f}"],
            ["mlts train, stack up, again", f"{second:.1f}"],
            ["mlts train --local (in the command, stack servers)", f"{local:.1f}"],
        ]
    finally:
        subprocess.run([str(BIN / "mlts"), "down"], env=env, capture_output=True, timeout=120)
    fresh = _shell(str(WORK / "no-stack-home"))
    _timed(fresh, "seed", "--csv", str(csv), "--collection", "cold", "--drop")
    alone = _timed(fresh, *train)
    subprocess.run([str(BIN / "mlts"), "mongo", "--stop"], env=fresh, capture_output=True, timeout=60)
    rows.append(["mlts train, no stack (embedded Mongo, Prefect's temporary server)", f"{alone:.1f}"])
    report.target("mlts train of 200 points with the stack up", "< 10 s", f"{first:.1f} s", first < 10)
    report.table(
        "cold",
        "7. Cold commands (a 200-point series, window 12, each command a new process)",
        ["command", "wall s"],
        rows,
        "Target: `mlts train` within 10 s wall with the stack up.",
    )


if __name__ == "__main__":
    run_alone(run)

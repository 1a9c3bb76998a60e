"""What `bootstrap` does to a fresh process: the libraries' files go under MLTS_HOME."""

import os
import subprocess
import sys
from pathlib import Path

from core.bootstrap import bootstrap


def test_the_libraries_scratch_files_go_under_mlts_home(tmp_path: Path) -> None:
    """MLflow's schema lock, Dask's scratch space and Prefect's runner storage are made in the
    temp folder; after bootstrap it is MLTS_HOME/tmp, in the process and in the servers it starts."""
    home = tmp_path / "home"
    fresh = {k: v for k, v in os.environ.items() if k not in ("TMPDIR", "MLFLOW_TRACKING_URI", "PREFECT_HOME")}
    code = (
        "import subprocess, sys, tempfile\n"
        "tempfile.gettempdir()\n"  # already read once, as an import may do
        "from core.bootstrap import bootstrap\n"
        "bootstrap()\n"
        "print(tempfile.gettempdir())\n"
        "subprocess.run([sys.executable, '-c', 'import tempfile; print(tempfile.gettempdir())'], check=True)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**fresh, "MLTS_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[2],
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == [str((home / "tmp").resolve())] * 2
    assert (home / "tmp").is_dir()


def test_a_temp_folder_the_user_chose_wins(tmp_path: Path, monkeypatch) -> None:
    chosen = tmp_path / "scratch"
    monkeypatch.setenv("TMPDIR", str(chosen))
    bootstrap()
    assert os.environ["TMPDIR"] == str(chosen)

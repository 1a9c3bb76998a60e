"""The code's form is checked, not hoped for: ruff's formatter and linter (line length, unused
imports, import order) over the whole tree, as `make test` runs them."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUFF = Path(sys.executable).parent / "ruff"


def _ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(RUFF), *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_the_formatter_has_nothing_to_change() -> None:
    done = _ruff("format", "--check", ".")
    assert done.returncode == 0, f"run `ruff format .`:\n{done.stdout[-3000:]}{done.stderr[-1000:]}"


def test_the_linter_finds_nothing() -> None:
    done = _ruff("check", ".")
    assert done.returncode == 0, f"run `ruff check --fix .`:\n{done.stdout[-3000:]}{done.stderr[-1000:]}"


def test_no_line_asks_the_formatter_to_look_away() -> None:
    mark = "fmt" + ": skip"
    sources = [p for p in ROOT.rglob("*.py") if not {".venv", ".git", ".work"} & set(p.parts)]
    skipped = [str(p.relative_to(ROOT)) for p in sources if mark in p.read_text()]
    assert skipped == [], f"lines marked `{mark}`: let the formatter lay them out"

"""The layout is the architecture, checked: imports only point down (ml ← core ← pipelines,
serving ← mlts), serving reaches into pipelines from one module only, and no module grows past
what one person can hold in their head."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ml", "core", "pipelines", "serving", "mlts")
MAY_IMPORT = {
    "ml": set(),
    "core": {"ml"},
    "pipelines": {"ml", "core"},
    "serving": {"ml", "core", "pipelines"},
    "mlts": {"ml", "core", "pipelines", "serving"},
}
MAX_LINES = 300


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imported_packages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & set(PACKAGES)


def test_imports_only_point_down() -> None:
    wrong = []
    for package in PACKAGES:
        for path in _modules(package):
            for imported in _imported_packages(path) - MAY_IMPORT[package] - {package}:
                wrong.append(f"{path.relative_to(ROOT)} imports {imported}")
    assert wrong == []


def test_serving_meets_pipelines_in_one_module() -> None:
    meeting = [str(p.relative_to(ROOT)) for p in _modules("serving") if "pipelines" in _imported_packages(p)]
    assert meeting == ["serving/training.py"]


def test_no_module_is_over_300_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for package in ("core", "pipelines", "serving", "mlts")
        for p in _modules(package)
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_the_ml_package_loads_its_parts_on_first_use() -> None:
    """The settings import `ml` constants; the model's heavier parts load when first named."""
    import subprocess
    import sys

    code = (
        "import sys, ml.errors\n"
        "assert 'ml.selection' not in sys.modules, 'ml.selection loaded by import ml'\n"
        "from ml import select, Hyperparameters\n"
        "assert select.__module__ == 'ml.selection' and Hyperparameters.__module__ == 'ml.forecaster'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_the_cli_starts_without_loading_the_mongo_driver() -> None:
    """Every `mlts` command, `--help` included, pays for what its import loads; pymongo loads
    when a command talks to MongoDB."""
    import subprocess
    import sys

    code = "import sys, mlts.cli\nassert 'pymongo' not in sys.modules, 'pymongo loaded by import mlts.cli'\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr

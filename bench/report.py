"""The shared reporting of the benchmarks: targets (what, target, measured, met), markdown
tables printed as they are made, and bench/results.md written from them. Every figure that
matters is a ratio against a reference measured in the same run."""

import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results.md"
ANALYSIS = ROOT / "bench" / "analysis.md"
VERSIONS = ("mlflow", "prefect", "fastapi", "uvicorn", "numpy", "pymongo", "msgspec")


@dataclass
class Report:
    targets: list[tuple[str, str, str, bool]] = field(default_factory=list)
    sections: dict[str, str] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    def target(self, name: str, wanted: str, measured: str, met: bool) -> None:
        self.targets.append((name, wanted, measured, met))

    def table(self, key: str, title: str, header: list[str], rows: list[list], notes: str = "") -> None:
        lines = [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
        text = "\n".join(lines) + ("\n\n" + notes if notes else "") + "\n"
        print("\n" + text, flush=True)
        self.sections[key] = self.sections.get(key, "") + text

    def failed(self, name: str, error: str) -> None:
        self.target(f"benchmark {name} ran", "no error", error, False)

    def summary(self) -> str:
        rows = [f"| {n} | {w} | {m} | {'yes' if ok else '**no**'} |" for n, w, m, ok in self.targets]
        return "## Targets\n\n| what | target | measured | met |\n|---|---|---|---|\n" + "\n".join(rows) + "\n"

    def write(self, order: list[str], path: Path = RESULTS) -> None:
        versions = ", ".join(f"{p} {metadata.version(p)}" for p in VERSIONS)
        header = (
            f"# mlts benchmarks\n\nRun {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()} with "
            f"{os.cpu_count()} CPUs ({platform.processor() or platform.platform()}), Python "
            f"{platform.python_version()}; {versions}. Took {time.perf_counter() - self.started:.0f} s. "
            "Reproduce with `make bench`.\n\n"
        )
        sections = "\n".join(self.sections[key] for key in order if key in self.sections)
        notes = ANALYSIS.read_text() if ANALYSIS.exists() else ""
        path.write_text(header + self.summary() + "\n" + sections + "\n" + notes)
        print(f"wrote {path}")


def run_alone(benchmark: Callable[[Report], None]) -> None:
    """`python -m bench.<name>`: one benchmark, its tables and targets printed, nothing written."""
    from bench.common import setup, teardown

    setup()
    report = Report()
    try:
        benchmark(report)
    finally:
        teardown()
    print(report.summary())

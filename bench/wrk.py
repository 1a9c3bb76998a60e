"""Load from wrk (`apt-get install wrk`) when it is installed: one C thread (`-t1`), keep-alive
connections, the same POST body on every request; far lighter than any Python generator, so on a
2-core machine the server, not the load, is what gets measured."""

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

_SCRIPT = """
wrk.method = "POST"
local f = io.open("%s", "rb"); wrk.body = f:read("*a"); f:close()
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("MLTS %%d %%d %%.1f %%.1f %%d %%d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
"""


@dataclass
class WrkResult:
    """The figures of `bench.loadgen.LoadResult` that the reports use."""

    connections: int
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        return {50: self.p50_ms, 99: self.p99_ms}[int(q)]


def available() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(url: str, body: bytes, connections: int, seconds: float = 5.0, warmup: float = 1.0) -> WrkResult:
    with tempfile.TemporaryDirectory(prefix="mlts-wrk-") as folder:
        body_path, script = Path(folder) / "body", Path(folder) / "post.lua"
        body_path.write_bytes(body)
        script.write_text(_SCRIPT % body_path)
        if warmup:
            _wrk(url, script, connections, warmup)
        line = _wrk(url, script, connections, seconds)
    requests, micros, p50, p99, status, broken = line.split()[1:]
    return WrkResult(
        connections, int(requests), int(micros) / 1e6, float(p50) / 1000, float(p99) / 1000, int(status) + int(broken)
    )


def _wrk(url: str, script: Path, connections: int, seconds: float) -> str:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "-s", str(script), url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    lines = [line for line in done.stdout.splitlines() if line.startswith("MLTS ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout[-500:]}{done.stderr[-500:]}")
    return lines[-1]

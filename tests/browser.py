"""Headless Chromium for the tests that must see a page as a person would: offline (any request
off this machine fails), a screenshot to check, and no browser process left behind."""

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

OFFLINE = [
    "--proxy-server=http://127.0.0.1:9",  # nothing listens: every request off localhost fails
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("chromium is not installed (make test installs it from Debian's packages where it can)")
    return found


def _run(arguments: list[str], profile: Path, timeout: float) -> subprocess.CompletedProcess:
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", *OFFLINE]
    command += [f"--user-data-dir={profile}", *arguments]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = process.communicate(timeout=timeout)
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)  # its helpers (zygote, GPU, network) too
        except ProcessLookupError:
            pass
        process.wait()
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def screenshot(url: str, path: Path, width: int = 1280, height: int = 2400, timeout: float = 90) -> Path:
    _run(
        [f"--screenshot={path}", f"--window-size={width},{height}", "--virtual-time-budget=5000", url],
        path.parent / "profile",
        timeout,
    )
    assert path.exists(), f"chromium made no screenshot of {url}"
    return path


def dom(url: str, profile: Path, timeout: float = 90) -> str:
    """The page's DOM after its scripts ran (5 s of virtual time), as Chromium serialises it."""
    done = _run(["--dump-dom", "--virtual-time-budget=5000", url], profile, timeout)
    return done.stdout.decode(errors="replace")


def not_blank(path: Path) -> tuple[int, float]:
    """Distinct colours and the share of pixels that are not white."""
    from PIL import Image

    image = Image.open(path).convert("RGB").resize((320, 600))
    pixels = list(image.getdata())
    return len(set(pixels)), sum(1 for p in pixels if p != (255, 255, 255)) / len(pixels)

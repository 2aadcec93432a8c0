"""report.html in a real browser: headless Chromium loads the fixture run's page with no console message (the
page has no script, so any message is an error: a script error, a resource the page's Content-Security-Policy
blocked, a broken image) and its screenshot is not blank.

Chromium is found as $CHROMIUM, `chromium` or `chromium-browser` (Debian's package `chromium`; `.ci/run`
installs it where apt works). The test installs nothing: without a browser it is skipped and says how to
get one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.pipeline.test_report import make_run_dir
from textbooks.pipeline.report import write_report

SKIP_REASON = "headless Chromium not found: apt-get install chromium (or set CHROMIUM=/path)"
# `--enable-logging=stderr --v=0` prints each console message of the page as
# [pid:tid:date/time.micro:INFO:CONSOLE:line] "message", source: URL (line)
CONSOLE_LINE = re.compile(r":CONSOLE(?:\(\d+\))?:?\d*\]\s*(.*)")
TIMEOUT_S = 60


def find_chromium() -> str | None:
    given = os.environ.get("CHROMIUM")
    if given:
        return given if Path(given).is_file() and os.access(given, os.X_OK) else shutil.which(given)
    return shutil.which("chromium") or shutil.which("chromium-browser")


CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason=SKIP_REASON)


def console_messages(stderr: str) -> list[str]:
    """The page's console messages in Chromium's stderr log (the browser's own noise, e.g. about D-Bus, is not
    a console message)."""
    return [m.group(1) for m in map(CONSOLE_LINE.search, stderr.splitlines()) if m]


def render(page: Path, screenshot: Path, profile: Path) -> subprocess.CompletedProcess:
    """Load `page` in headless Chromium and write a screenshot of the first 1280x1600 pixels."""
    argv = [CHROMIUM, "--headless", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
            "--disable-extensions", "--disable-background-networking", "--enable-logging=stderr", "--v=0",
            f"--user-data-dir={profile}", "--window-size=1280,1600", f"--screenshot={screenshot}",
            "--virtual-time-budget=5000", page.resolve().as_uri()]
    if os.geteuid() == 0:  # Chromium refuses to start its sandbox as root (CI containers, this machine)
        argv.insert(1, "--no-sandbox")
    return subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S)


def colours(png: Path) -> int:
    import matplotlib.image
    import numpy as np

    pixels = matplotlib.image.imread(str(png))
    return len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0))


def test_console_check_sees_a_script_error(tmp_path):
    """The check below can fail: a page whose script throws and that loads a blocked image is caught."""
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" '
                    "content=\"default-src 'none'; img-src data:; script-src 'unsafe-inline'\"></head><body><p>x</p>"
                    '<img src="https://example.invalid/x.png"><script>notDefined();</script></body></html>')
    done = render(page, tmp_path / "bad.png", tmp_path / "profile")
    messages = console_messages(done.stderr)
    assert any("notDefined" in m for m in messages), done.stderr[-2000:]
    assert any("Content Security Policy" in m for m in messages), done.stderr[-2000:]


def test_report_html_loads_cleanly_and_is_not_blank(tmp_path):
    run_dir = make_run_dir(tmp_path / "run")
    html_path, _ = write_report(run_dir)
    shot = tmp_path / "report.png"
    done = render(html_path, shot, tmp_path / "profile")
    assert done.returncode == 0, done.stderr[-2000:]
    assert console_messages(done.stderr) == []
    assert shot.is_file() and shot.stat().st_size > 0, done.stderr[-2000:]
    # a blank page is one colour; the header, tables and plots give hundreds
    assert colours(shot) > 50

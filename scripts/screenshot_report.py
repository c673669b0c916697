"""Open an HTML report in headless Chromium and save a PNG screenshot: the check that the page renders in a real
browser, not only that the file parses.

Usage: python scripts/screenshot_report.py REPORT.html OUT.png [--width 1280] [--height 2400]

Needs Debian's `chromium` package (`apt-get install chromium`). Each run uses a fresh, throwaway profile and turns
off networking features, so it touches nothing outside the page. Only the first WIDTH×HEIGHT pixels are captured.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser")


def find_chromium() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    raise FileNotFoundError(
        f"no Chromium found on PATH (looked for {', '.join(BROWSERS)}); install it with `apt-get install chromium`"
    )


def screenshot(report: Path, out: Path, *, width: int = 1280, height: int = 2400, timeout: float = 120.0) -> Path:
    """Render ``report`` in headless Chromium and write the screenshot to ``out``."""
    report = Path(report).resolve()
    if not report.is_file():
        raise FileNotFoundError(f"report {report} does not exist")
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)  # so a stale screenshot cannot pass for this one
    browser = find_chromium()
    with tempfile.TemporaryDirectory(prefix="thinkvl-chromium-") as profile:
        cmd = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--screenshot={out}",
            f"--window-size={width},{height}",
            report.as_uri(),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0 or not out.is_file():
        raise RuntimeError(f"chromium exited with {proc.returncode} and no screenshot at {out}:\n{proc.stderr[-2000:]}")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("report", type=Path, help="the HTML file to open")
    p.add_argument("out", type=Path, help="where to write the PNG")
    p.add_argument("--width", type=int, default=1280, help="window width in pixels")
    p.add_argument("--height", type=int, default=2400, help="window height in pixels (the captured height)")
    args = p.parse_args(argv)
    try:
        path = screenshot(args.report, args.out, width=args.width, height=args.height)
    except (FileNotFoundError, RuntimeError, subprocess.TimeoutExpired) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

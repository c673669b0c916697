"""What several benchmarks share. Benchmarks run as scripts (`python benchmarks/x.py`), so this imports as `common`."""

from __future__ import annotations

import argparse


def add_threads_argument(ap: argparse.ArgumentParser) -> None:
    """``--threads`` (default 1): on a small machine shared with other jobs, more torch threads than free cores
    makes every parallel op wait for a descheduled thread — about 10x slower on the 2-core machines here."""
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1; see benchmarks/common.py)")

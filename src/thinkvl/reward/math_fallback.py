"""math-verify as the math verifier's second opinion, asked only where thinkvl's own parser gives no verdict.

Hugging Face's math-verify reads LaTeX that our grammar refuses (``\\lfloor 3.5 \\rfloor``, ``\\sum_{k=1}^{3} k``,
``\\det``, ``\\max``). It is slow (tens of ms a pair) and, on our hand-labelled near misses, more credulous, so
the math verifier keeps its own verdict wherever it has one and asks math-verify only about an answer it could not
parse or compare (`undecided`).

Where it may run: only in a reward worker process (`thinkvl.reward.worker` calls `enable`), on the worker's main
thread, under a ``SIGALRM`` budget of its own; the worker's hard wall-clock kill stands behind that budget for a
computation a signal can't interrupt. In any other process `equal` answers None (no opinion) without importing
it. Only math-verify's LaTeX reader is used: its plain-expression reader hands the text to sympy's ``parse_expr``,
which evaluates Python, and model output is never evaluated.
"""

from __future__ import annotations

import logging
import re
import signal
import threading
from typing import Any

# math_equal reasons that mean "could not decide" (anything else, including "different text" for a gold that is
# not an expression, is a verdict: on the labelled pairs math-verify calls \text{B} and b equal).
UNDECIDED = ("unparseable answer", "can't compare")
# ...except our parser's deliberate refusals (a power tower, a 50,000-term sum, 5,000 nested braces): those answers
# are wrong by policy, and handing them to another parser would only spend the worker's time limit.
_REFUSED = re.compile(r"too (?:large|long|deeply)|Recursion")
_state: dict[str, Any] = {"enabled": False, "api": None}


class _OutOfTime(Exception):
    pass


def enable() -> bool:
    """Allow math-verify in this process (a reward worker); False when the package is not installed."""
    try:
        from math_verify import LatexExtractionConfig, parse, verify
    except ImportError:
        return False
    # We time the call ourselves (one budget for parse + verify), so its per-call alarms are off; say so once
    # quietly instead of its warning on every worker start.
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    _state.update(enabled=True, api=(parse, verify, [LatexExtractionConfig()]))
    return True


def enabled() -> bool:
    return bool(_state["enabled"])


def undecided(reason: str) -> bool:
    """Whether a `math_equal` reason is "no verdict" rather than "not equal" (or refused on purpose)."""
    return reason.startswith(UNDECIDED) and not _REFUSED.search(reason)


def _on_alarm(signum: int, frame: Any) -> None:
    raise _OutOfTime


def equal(gold: str, pred: str, budget_s: float) -> bool | None:
    """math-verify's verdict on ``pred`` against ``gold`` within ``budget_s`` seconds; None when it may not run
    here, can't read either side, or runs out of time."""
    if not _state["enabled"] or threading.current_thread() is not threading.main_thread():
        return None
    parse, verify, config = _state["api"]
    old = signal.signal(signal.SIGALRM, _on_alarm)
    # Re-armed every 50 ms past the budget: math-verify catches exceptions inside, so one alarm may be swallowed.
    signal.setitimer(signal.ITIMER_REAL, budget_s, 0.05)
    try:
        g = parse(f"${gold}$", config, fallback_mode="no_fallback", parsing_timeout=None)
        p = parse(f"${pred}$", config, fallback_mode="no_fallback", parsing_timeout=None)
        if not g or not p:
            return None
        return bool(verify(g, p, timeout_seconds=None))
    except _OutOfTime:
        return None
    except Exception:  # noqa: BLE001  (a reader's crash on odd input is "no opinion", never a worker error)
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)

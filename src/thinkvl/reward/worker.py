"""A verification worker process: reads JSON-line tasks on stdin, writes JSON-line verdicts on stdout.

Run by `thinkvl.reward.sandbox` as ``python -m thinkvl.reward.worker``. The first line is the setup
(config and plugin modules); the worker answers ``{"ready": true}`` once imports are done, so start-up time never
counts against a task's time limit. JSON in both directions: nothing received is unpickled or evaluated.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def _limit_memory(megabytes: int) -> None:
    if megabytes <= 0:
        return
    try:
        import resource

        limit = megabytes * 1024 * 1024
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard == resource.RLIM_INFINITY or hard > limit:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, ValueError, OSError):
        pass  # not Linux, or not permitted: the time limit still holds


def serve(stdin: Any, out: Any) -> None:
    from thinkvl.reward.config import RewardConfig
    from thinkvl.reward.scoring import Scorer, Target

    def send(obj: dict[str, Any]) -> None:
        out.write(json.dumps(obj).encode() + b"\n")
        out.flush()

    try:
        setup = json.loads(stdin.readline())
        config = RewardConfig.from_dict(setup["config"], merge_domains=False)
        from thinkvl.reward.scoring import import_plugins

        import_plugins(setup.get("plugins", []))
        from thinkvl.reward import math_fallback

        math_fallback.enable()  # here, under the parent's hard time limit, the math verifier may ask math-verify
        scorer = Scorer(config)
        for verifier in scorer.verifiers.values():
            verifier.warm_up()
        _limit_memory(config.limits.worker_memory_mb)
    except Exception as err:  # noqa: BLE001  (report any start-up failure to the parent, then exit)
        send({"ready": False, "error": f"{type(err).__name__}: {err}"})
        return
    send({"ready": True})
    for line in stdin:
        task = json.loads(line)
        try:
            target = Target(task["domain"], task["answer"], task.get("meta") or {}, task.get("rid", ""))
            verdict = scorer.score(task["response"], target, lenient=task.get("lenient"))
            send({"id": task["id"], "verdict": verdict.to_dict()})
        except Exception as err:  # noqa: BLE001  (one bad task must not take the worker down)
            send({"id": task["id"], "error": f"{type(err).__name__}: {err}"})


def main() -> None:
    # Keep the protocol stream private: anything a library prints goes to stderr instead of stdout.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(sys.stdin.buffer, out)


if __name__ == "__main__":
    main()

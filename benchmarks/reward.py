"""Reward system speed: a mixed batch of 10,000 generated responses, and our math path vs math-verify.

    python benchmarks/reward.py [--n 10000] [--workers 2] [--seed 0]

Prints (1) end-to-end throughput of `RewardSystem.score_batch` on the mixed batch with worker processes (hard time
limit on), (2) per-domain verifications/s and p50/p99/max latency of the in-process scorer, and (3) on the same
math cases, our math verifier vs math-verify's own ``parse`` + ``verify`` (time per case, ratio, and how often the
two agree), (4) both on the hand-labelled answer forms of tests/reward/math_pairs.jsonl (agreement with the
labels, false positives, false negatives, time per pair), and (5) the math verifier with and without its
math-verify fallback, in worker processes: on those pairs and on real answers with official verdicts (MathVista's
free-form items as GPT-4 extracted them from Bard's responses, shared/benchdata, when present). One math case
shape in thirteen is LaTeX our parser can't read (floor brackets), so the mixed batch exercises the fallback too.
Simplifications: responses are synthetic (templated
thinking, ground truths from a fixed set of answer shapes); math-verify reads gold and prediction wrapped in
``$…$``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from collections import defaultdict
from pathlib import Path

from thinkvl.reward import RewardSystem
from thinkvl.reward.scoring import as_target

FILLER = (
    "First I read the figure carefully and note the relevant quantities. "
    "Then I set up the relation between them and simplify step by step. "
    "Let me double-check the arithmetic before writing the final answer. "
)


def respond(box: str, rng: random.Random) -> str:
    thinking = FILLER * rng.randint(1, 8)
    if rng.random() < 0.05:  # a share of malformed outputs, as in early RL
        return f"<think>{thinking}</think>The answer is {box}"
    return f"<think>{thinking}</think><answer>So the answer is <|begin_of_box|>{box}<|end_of_box|></answer>"


def math_case(rng: random.Random) -> tuple[str, str]:
    """(gold, prediction): equivalent forms about two thirds of the time, a near miss otherwise."""
    a, b, c = rng.randint(2, 40), rng.randint(2, 12), rng.randint(1, 9)
    right = rng.random() < 0.66
    kind = rng.randrange(13)
    if kind == 0:
        return str(a), str(a if right else a + 1)
    if kind == 1:
        return f"\\frac{{{a}}}{{{b}}}", f"{a}/{b}" if right else f"{a}/{b + 1}"
    if kind == 2:
        return f"\\frac{{{a}}}{{8}}", f"{a / 8}" if right else f"{a / 8 + 0.01}"
    if kind == 3:
        return f"{c}\\sqrt{{{b}}}", f"\\sqrt{{{c * c * b}}}" if right else f"\\sqrt{{{c * c * b + 1}}}"
    if kind == 4:
        return f"(x+{c})^2", f"x^2+{2 * c}x+{c * c}" if right else f"x^2+{2 * c}x+{c * c + 1}"
    if kind == 5:
        return f"y = {c}x + {b}", f"{c}x - y + {b} = 0" if right else f"{c}x - y - {b} = 0"
    if kind == 6:
        return f"({c}, {a}]", f"({c},{a}]" if right else f"[{c},{a}]"
    if kind == 7:
        return f"\\{{{c}, {b}, {a}\\}}", f"{a}, {b}, {c}" if right else f"{a}, {b}, {c + 100}"
    if kind == 8:
        return f"{a}\\%", f"{a}" if right else f"{a + 1}"
    if kind == 9:
        return "\\frac{1}{2}", "\\sin(\\pi/6)" if right else "\\cos(\\pi/6)"
    if kind == 10:
        return f"\\frac{{1}}{{{a}!}}", f"\\frac{{1}}{{{a}!}}" if right else f"\\frac{{1}}{{{a + 2}!}}"
    if kind == 11:
        return f"\\frac{{1}}{{2^{{{a}}}}}", f"2^{{-{a}}}" if right else f"2^{{-{a + 1}}}"
    return str(a), f"\\lfloor {a}.5 \\rfloor" if right else f"\\lfloor {a + 1}.5 \\rfloor"  # math-verify decides


def make_case(domain: str, rng: random.Random) -> tuple[str, dict, str]:
    """(box content, record, gold shown to math-verify or '')."""
    right = rng.random() < 0.6
    if domain == "math":
        gold, pred = math_case(rng)
        return pred, {"domain": "math", "answer": gold}, gold
    if domain == "counting":
        n = rng.randint(0, 20)
        return str(n if right else n + 1), {"domain": "counting", "answer": n}, ""
    if domain == "chart":
        v = round(rng.uniform(1, 500), 2)
        return f"{v * (1.02 if right else 1.2):.2f}", {"domain": "chart", "answer": str(v)}, ""
    if domain == "ocr":
        words = " ".join(rng.choice(["SALE", "OPEN", "EXIT", "Cafe", "Road", "24h", "Bank"]) for _ in range(3))
        return words if right else words[:-2], {"domain": "ocr", "answer": words}, ""
    if domain == "grounding":
        x, y = rng.randint(0, 700), rng.randint(0, 700)
        d = 0 if right else rng.randint(20, 120)
        box = f"[{x + d}, {y}, {x + 200 + d}, {y + 150}]"
        return box, {"domain": "grounding", "answer": [x, y, x + 200, y + 150]}, ""
    if domain == "choice":
        k = rng.randrange(4)
        meta = {"choices": ["12 cm", "15 cm", "18 cm", "21 cm"]}
        return "ABCD"[k if right else (k + 1) % 4], {"domain": "choice", "answer": "ABCD"[k], "meta": meta}, ""
    if domain == "vqa":
        gold = rng.choice(["yes", "no", "red", "two dogs", "left"])
        return gold.capitalize() if right else "blue", {"domain": "vqa", "answer": gold}, ""
    if domain == "video":
        if rng.random() < 0.5:
            t = round(rng.uniform(0, 60), 1)
            return f"{t + (0.4 if right else 3)}s", {"domain": "video", "answer": t}, ""
        seq = ["red", "green", "blue"]
        pred = seq if right else [seq[1], seq[0], seq[2]]
        return " -> ".join(pred), {"domain": "video", "answer": ", ".join(seq), "meta": {"video_task": "order"}}, ""
    x, y = rng.randint(0, 800), rng.randint(0, 800)
    if rng.random() < 0.5:
        answer = {"action": "click", "box": [x, y, x + 100, y + 60]}
        return f"click({x + (50 if right else 150)}, {y + 30})", {"domain": "gui", "answer": answer}, ""
    typed = {"domain": "gui", "answer": {"action": "type", "text": "hello world"}}
    return 'type("hello world")' if right else 'type("hello")', typed, ""


DOMAINS = ("math", "counting", "chart", "ocr", "grounding", "choice", "vqa", "video", "gui")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    cases = []
    for k in range(args.n):
        domain = DOMAINS[k % len(DOMAINS)]
        box, record, gold = make_case(domain, rng)
        cases.append((respond(box, rng), record, box, gold))
    responses, records = [c[0] for c in cases], [c[1] for c in cases]

    # (1) End to end, worker processes with the hard time limit.
    with RewardSystem() as rs:
        rs.score_batch(responses[:50], records[:50], workers=args.workers)  # start the workers untimed
        load = os.getloadavg()[0]
        start, parent_cpu = time.perf_counter(), time.process_time()
        verdicts = rs.score_batch(responses, records, workers=args.workers)
        wall, parent_cpu = time.perf_counter() - start, time.process_time() - parent_cpu
    accuracy = sum(v.correct for v in verdicts) / len(verdicts)
    print(f"mixed batch: {args.n} responses, {args.workers} worker processes: {wall:.2f} s = {args.n / wall:,.0f}/s")
    fallbacks = sum(v.reason.startswith("math-verify") for v in verdicts)
    print(f"  (math-verify fallback decided {fallbacks} of them)")
    failures = sum(not v.format_ok for v in verdicts)
    print(f"  (correct {accuracy:.1%}; format failures {failures}; machine load average {load:.1f})")

    # (2) Per domain, in-process (one core): throughput and latency of one verification.
    inproc = RewardSystem({"limits": {"isolation": "none"}})
    scorer = inproc.scorer
    latency: dict[str, list[float]] = defaultdict(list)
    for response, record, _, _ in cases:
        target = as_target(record)
        t0 = time.perf_counter()
        scorer.score(response, target)
        latency[record["domain"]].append(time.perf_counter() - t0)
    worker_cpu = 0.0
    for response, record, _, _ in cases:  # CPU time per verification, insensitive to other load on the machine
        target = as_target(record)
        t0 = time.process_time()
        scorer.score(response, target)
        worker_cpu += time.process_time() - t0
    per_task = (worker_cpu + parent_cpu) / args.n
    print(
        f"  CPU per verification: {worker_cpu / args.n * 1e3:.3f} ms scoring + {parent_cpu / args.n * 1e3:.3f} ms "
        f"dispatch -> capacity of 2 dedicated cores: {2 / per_task:,.0f}/s"
    )
    print(f"\n{'domain':<10} {'n':>6} {'verif/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  (in-process, 1 core)")
    for domain in DOMAINS:
        lat = latency[domain]
        print(
            f"{domain:<10} {len(lat):>6} {len(lat) / sum(lat):>9,.0f} {statistics.median(lat) * 1e3:>8.3f} "
            f"{percentile(lat, 0.99) * 1e3:>8.3f} {max(lat) * 1e3:>8.3f}"
        )

    # (3) Math: our verifier vs math-verify's own parse + verify on the same cases.
    from math_verify import parse, verify

    math_cases = [(c[2], c[3]) for c in cases if c[1]["domain"] == "math"]
    verifier = scorer.verifiers["math"]
    ours, theirs, agree, differ = [], [], 0, []
    for pred, gold in math_cases:
        t0 = time.perf_counter()
        mine = verifier.verify(pred, gold, {}).correct
        ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        mv = verify(parse(f"${gold}$"), parse(f"${pred}$"))
        theirs.append(time.perf_counter() - t0)
        agree += mine == bool(mv)
        if mine != bool(mv):
            differ.append(f"{gold} vs {pred}: ours {mine}, math-verify {bool(mv)}")
    ours_total, theirs_total = sum(ours), sum(theirs)
    print(f"\nmath, {len(math_cases)} cases (gold vs prediction), per case:")
    for name, times in (("ours", ours), ("math-verify", theirs)):
        mean, p99 = sum(times) / len(times) * 1e3, percentile(times, 0.99) * 1e3
        print(f"  {name:<12} mean {mean:7.3f} ms  p99 {p99:7.3f} ms")
    ratio, agreement = theirs_total / ours_total, agree / len(math_cases)
    print(f"  ratio math-verify / ours: {ratio:.1f}x   verdicts agree on {agreement:.1%}")
    for line in sorted(set(differ))[:4]:
        print(f"  differ: {line}")
    corpus_comparison(verifier, verify, parse)
    fallback_comparison(args.workers)


def corpus_comparison(verifier, verify, parse) -> None:
    """(4) Both checkers on the hand-labelled pairs of tests/reward/math_pairs.jsonl: agreement with the expected
    verdicts, false positives (a wrong answer credited), false negatives, and time per pair."""
    path = Path(__file__).resolve().parents[1] / "tests" / "reward" / "math_pairs.jsonl"
    pairs = [json.loads(line) for line in path.read_text().splitlines()]

    def math_verify(gold: str, pred: str) -> bool:
        try:
            return bool(verify(parse(f"${gold}$"), parse(f"${pred}$")))
        except Exception:  # noqa: BLE001  (a crash of the baseline counts as "not equal")
            return False

    checkers = (("ours", lambda g, p: verifier.verify(p, g, {}).correct), ("math-verify", math_verify))
    print(f"\nmath corpus ({path.name}): {len(pairs)} labelled pairs, {sum(not p['equal'] for p in pairs)} near misses")
    for name, check in checkers:
        start, fp, fn = time.perf_counter(), 0, 0
        for p in pairs:
            ok = check(p["gold"], p["pred"])
            fp += ok and not p["equal"]
            fn += p["equal"] and not ok
        per_pair = (time.perf_counter() - start) / len(pairs) * 1e3
        agreement = 1 - (fp + fn) / len(pairs)
        print(
            f"  {name:<12} agreement {agreement:6.1%}  false positives {fp:3d}  false negatives {fn:3d}  "
            f"{per_pair:7.3f} ms/pair"
        )


def fallback_comparison(workers: int) -> None:
    """(5) The math verifier in worker processes without and with the math-verify fallback: agreement with the
    reference verdicts, false positives, how many verdicts math-verify gave, and time."""
    root = Path(__file__).resolve().parents[1]
    pairs = [json.loads(line) for line in (root / "tests" / "reward" / "math_pairs.jsonl").read_text().splitlines()]
    corpora = {"math_pairs.jsonl": [(p["gold"], p["pred"], p["equal"]) for p in pairs]}
    bard = root.parent / "shared" / "benchdata" / "mathvista" / "output_bard.json"
    if not bard.is_file():
        bard = Path("/work/shared/benchdata/mathvista/output_bard.json")
    if bard.is_file():
        rows = [r for r in json.loads(bard.read_text()).values() if r["question_type"] == "free_form"]
        corpora["MathVista/Bard extractions"] = [(r["answer"], str(r["extraction"]), r["true_false"]) for r in rows]
    print("\nmath fallback (worker processes; reference verdicts: labels / official MathVista judge):")
    for name, cases in corpora.items():
        responses = [f"<think>x</think><answer><|begin_of_box|>{pred}<|end_of_box|></answer>" for _, pred, _ in cases]
        records = [{"domain": "math", "answer": gold} for gold, _, _ in cases]
        for fallback in (False, True):
            config = {"domains": {"math": {"options": {"fallback": fallback}}}}
            with RewardSystem(config) as rs:
                rs.score_batch(responses[:4], records[:4], workers=workers)  # start the workers untimed
                start = time.perf_counter()
                verdicts = rs.score_batch(responses, records, workers=workers)
                wall = time.perf_counter() - start
            agree = sum(v.correct == ref for v, (_, _, ref) in zip(verdicts, cases))
            fp = sum(v.correct and not ref for v, (_, _, ref) in zip(verdicts, cases))
            asked = sum(v.reason.startswith("math-verify") for v in verdicts)
            print(
                f"  {name:<28} fallback {'on ' if fallback else 'off'}  agreement {agree}/{len(cases)} "
                f"({agree / len(cases):.1%})  false positives {fp}  decided by math-verify {asked}  {wall:.2f} s"
            )


if __name__ == "__main__":
    main()

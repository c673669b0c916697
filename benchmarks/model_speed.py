"""Training and generation throughput of a model preset, each against its plain baseline, in one process.

Training: SFT steps on packed batches (`collate_packed`, rows of ``--pack-len``) against the same samples
padded to the longest (`collate_padded`, one sample per row), each side with its own copy of the model and its
own AdamW; both count *real* tokens (padding excluded). Generation: our `TransformersEngine` (thinking-budget
forcing, per-sequence stop, log-probs of the sampled tokens) against plain transformers ``model.generate`` on
the same prompts with the same settings (sampling, max new tokens, suppressed and stop tokens), both starting from
records (prompt encoding included); both count generated tokens up to and including each sequence's stop token.
The sides alternate step by step (the first of each is a warm-up, untimed), and the script prints the ratios.
Memory: the peak memory of the RL log-probs (forward + backward) for a long prompt and the 9B model's vocabulary,
today's full logits against ours (response positions only, chunked LM head), each in a fresh process.

    python benchmarks/model_speed.py [--preset tiny] [--steps 10] [--batch 16] [--pack-len 512] [--threads 1]
"""

from __future__ import annotations

import argparse
import copy
import multiprocessing
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch
from common import add_threads_argument

from thinkvl.data.loaders import load_records
from thinkvl.data.synth.writer import write_dataset
from thinkvl.model import create_bundle
from thinkvl.model.chat import render_prompt
from thinkvl.model.generate import SamplingParams, TransformersEngine, modality
from thinkvl.model.processor import encode
from thinkvl.train.loss import token_loss_sum
from thinkvl.train.packing import collate_packed, collate_padded, pack
from thinkvl.train.samples import build_sample


def train_step(model: Any, opt: Any, batch: dict[str, torch.Tensor]) -> None:
    loss, n = token_loss_sum(model, batch)
    (loss / n).backward()
    opt.step()
    opt.zero_grad()


def training(bundle: Any, samples: list, args: argparse.Namespace) -> None:
    """Real tokens/s, packed vs padded, on the same ``--batch`` samples (a shuffled draw) at every step."""
    pad = bundle.tokenizer.pad_token_id
    order = torch.randperm(len(samples), generator=torch.Generator().manual_seed(0)).tolist()
    sides = {}
    for name in ("packed", "padded"):
        model = copy.deepcopy(bundle.model).train()
        sides[name] = (model, torch.optim.AdamW(model.parameters(), lr=1e-4))
    used = {name: [0.0, 0.0] for name in sides}  # wall, CPU seconds
    slots = dict.fromkeys(sides, 0)
    real = 0
    for step in range(args.steps + 1):
        chosen = [samples[order[(step * args.batch + i) % len(order)]] for i in range(args.batch)]
        batches = {"packed": collate_packed(pack(chosen, args.pack_len)[0], pad), "padded": collate_padded(chosen, pad)}
        for name in sides if step % 2 == 0 else reversed(list(sides)):
            start = clock()
            train_step(*sides[name], batches[name])
            if step:  # step 0 is warm-up
                used[name] = [a + b - c for a, b, c in zip(used[name], clock(), start)]
                slots[name] += batches[name]["input_ids"].numel()
        if step:
            real += sum(len(s) for s in chosen)
    print(
        f"training: {len(samples)} samples of {min(map(len, samples))}-{max(map(len, samples))} tokens, "
        f"{args.batch} per step, packed in rows of {args.pack_len} or padded to the longest; {args.steps} timed steps"
    )
    for name in sides:
        wall, cpu = used[name]
        print(
            f"  {name:>6}: {real / wall:7,.0f} real tokens/s, {real / cpu:7,.0f} per CPU second "
            f"({real / slots[name]:.1%} of its batch slots real)"
        )
    print(f"  ratio packed/padded: {_ratio(used['padded'], used['packed'])}")


def clock() -> tuple[float, float]:
    """(wall, CPU) seconds: on a shared machine the wall clock also measures the other jobs."""
    return time.perf_counter(), time.process_time()


def _ratio(slow: list[float], fast: list[float]) -> str:
    return f"{slow[0] / fast[0]:.2f}x wall clock, {slow[1] / fast[1]:.2f}x CPU time"


def plain_generate(bundle: Any, engine: TransformersEngine, records: list, root: Any, max_new: int) -> int:
    """transformers ``generate`` from records with our engine's settings; generated tokens up to each stop."""
    texts = [render_prompt(r.messages, thinking=False) for r in records]
    inputs = encode(bundle.processor, texts, [r.messages for r in records], root, padding=True)
    out = bundle.model.generate(
        **inputs,
        max_new_tokens=max_new,
        do_sample=True,
        temperature=1.0,
        top_p=1.0,
        top_k=0,
        eos_token_id=engine.stop_ids,
        pad_token_id=engine.pad_id,
        suppress_tokens=engine.suppressed,
    )
    tokens = 0
    for row in out[:, inputs["input_ids"].shape[1] :].tolist():
        stops = [k for k, t in enumerate(row) if t in engine.stop_ids]
        tokens += stops[0] + 1 if stops else len(row)
    return tokens


def generation(bundle: Any, records: list, root: Any, args: argparse.Namespace) -> None:
    bundle.model.eval()
    engine = TransformersEngine(bundle, batch_size=args.batch)
    # Non-thinking prompts: no forced-answering pass, so both sides run one generate call on the same prompts.
    params = SamplingParams(n=1, thinking_budget=args.new_tokens, thinking=False)
    runs = {
        "ours": lambda: sum(len(r.response_ids) for r in engine.generate(records, root, params)),
        "plain": lambda: plain_generate(bundle, engine, records, root, args.new_tokens),
    }
    used, tokens = {name: [0.0, 0.0] for name in runs}, dict.fromkeys(runs, 0)
    for rep in range(args.gen_reps + 1):
        for name in runs if rep % 2 == 0 else reversed(list(runs)):
            start = clock()
            n = runs[name]()
            if rep:  # rep 0 is warm-up
                used[name] = [a + b - c for a, b, c in zip(used[name], clock(), start)]
                tokens[name] += n
    print(f"generation: batch {len(records)}, up to {args.new_tokens} new tokens, {args.gen_reps} timed reps")
    for name in runs:
        wall, cpu = used[name]
        print(
            f"  {name:>6}: {tokens[name] / wall:7,.0f} generated tokens/s, {tokens[name] / cpu:7,.0f} per CPU "
            f"second ({tokens[name]} tokens)"
        )
    # Sampled lengths differ between the sides: compare time per generated token.
    per_token = {k: [x / tokens[k] for x in v] for k, v in used.items()}
    print(f"  ratio ours/plain generate (tokens/s): {_ratio(per_token['plain'], per_token['ours'])}")


def _peak_rss_mb(mode: str, prompt_len: int, group: int, response_len: int, vocab: int) -> tuple[float, float]:
    """In a fresh process: the rise of peak RSS over one forward + backward of a group's response log-probs,
    today's way (``full``: padded rows, logits over every position and the whole vocabulary, then log-softmax)
    or ours (``ours``: packed, hidden states at response positions, chunked LM head)."""
    from thinkvl.model.generate import Rollout
    from thinkvl.rl.policy import PromptEncoding, policy_batch, rollout_sample, token_logprobs
    from thinkvl.train.loss import forward_logits

    torch.set_num_threads(1)
    bundle = create_bundle("tiny", seed=0)
    bundle.model.resize_token_embeddings(vocab)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(40, len(bundle.tokenizer), (prompt_len,), generator=g)
    prompt = PromptEncoding(ids, torch.zeros_like(ids), torch.arange(prompt_len)[None].expand(3, -1), None, None)
    rollouts = []
    for _ in range(group):
        response = torch.randint(40, len(bundle.tokenizer), (response_len,), generator=g).tolist()
        rollouts.append(Rollout("r", "", response, [0.0] * response_len, [1] * response_len))
    pad = bundle.tokenizer.pad_token_id
    batch = policy_batch([prompt] * group, rollouts, pad)
    padded = collate_padded([rollout_sample(prompt, r) for r in rollouts], pad)
    for param in bundle.model.parameters():  # weight gradients are the same both ways: allocate them first
        param.grad = torch.zeros_like(param)
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak-RSS mark (Linux)
    base = _rss_kb("VmRSS")
    start = time.process_time()
    if mode == "full":
        logp = torch.log_softmax(forward_logits(bundle.model, padded)[:, prompt_len - 1 : -1].float(), dim=-1)
        total = logp.gather(-1, padded["input_ids"][:, prompt_len:, None]).sum()
    else:
        total = token_logprobs(bundle.model, batch)[0].sum()
    total.backward()
    return (_rss_kb("VmHWM") - base) / 1024, time.process_time() - start


def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def logprob_memory(args: argparse.Namespace) -> None:
    """Peak memory of the RL log-probs for long prompts, each way and length in its own process."""
    print(
        f"RL log-probs + backward, {args.mem_group} responses of {args.mem_response} tokens, vocabulary "
        f"{args.mem_vocab:,} (tiny model otherwise); peak memory above the model, its weight gradients and inputs:"
    )
    context = multiprocessing.get_context("spawn")
    for prompt in args.mem_prompt:
        shape = (prompt, args.mem_group, args.mem_response, args.mem_vocab)
        result = {}
        for mode in ("full", "ours"):
            with ProcessPoolExecutor(1, mp_context=context) as pool:
                result[mode] = pool.submit(_peak_rss_mb, mode, *shape).result()
        (full_mb, full_cpu), (ours_mb, ours_cpu) = result["full"], result["ours"]
        print(
            f"  prompt {prompt:>5} tokens: full logits +{full_mb:,.0f} MB ({full_cpu:.2f} CPU s), ours "
            f"+{ours_mb:,.0f} MB ({ours_cpu:.2f} CPU s): {full_mb / ours_mb:.1f}x less memory"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--steps", type=int, default=10, help="timed training steps per side")
    ap.add_argument("--pack-len", type=int, default=512)
    ap.add_argument("--batch", type=int, default=16, help="samples per training step and prompts per generate call")
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--gen-reps", type=int, default=4, help="timed generate calls per side")
    ap.add_argument("--mem-prompt", type=int, nargs="+", default=[256, 1024], help="prompt lengths (memory check)")
    ap.add_argument("--mem-group", type=int, default=2)
    ap.add_argument("--mem-response", type=int, default=64)
    ap.add_argument("--mem-vocab", type=int, default=151_552, help="the 9B model's vocabulary")
    ap.add_argument("--skip", nargs="*", default=[], choices=["training", "generation", "memory"])
    add_threads_argument(ap)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        write_dataset(tmp, n=12, seed=0, levels=[0])
        ds = load_records(tmp)
        bundle = create_bundle(args.preset)
        print(
            f"preset {args.preset}: {bundle.num_parameters:,} parameters, torch threads {torch.get_num_threads()}, "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        if "training" not in args.skip:
            samples = [build_sample(r, ds.root, bundle.processor, bundle.model, "sft") for r in ds.records]
            training(bundle, samples, args)
        if "generation" not in args.skip:
            images = [r for r in ds.records if modality(r) == "image"][: args.batch]
            generation(bundle, images, ds.root, args)
    if "memory" not in args.skip:
        logprob_memory(args)


if __name__ == "__main__":
    main()

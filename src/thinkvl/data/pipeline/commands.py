"""`thinkvl data filter`, `interleaved`, `documents` and `recaption`: argparse wiring over the pipeline's functions."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from thinkvl.config import add_config_flags_later
from thinkvl.data.pipeline.config import ConfigError, load_pipeline_config


def _filter(args: argparse.Namespace) -> int:
    try:
        cfg = load_pipeline_config(
            args.config,
            input=None if args.input is None else str(Path(args.input).resolve()),
            output=None if args.output is None else str(Path(args.output).resolve()),
            workers=args.workers,
            overwrite=True if args.overwrite else None,
        )
        if args.ray:
            from thinkvl.data.pipeline.ray_runner import run_filter_pipeline_ray

            report = run_filter_pipeline_ray(cfg, progress=not args.quiet, address=args.ray_address)
        else:
            from thinkvl.data.pipeline.runner import run_filter_pipeline

            report = run_filter_pipeline(cfg, progress=not args.quiet)
    except (ConfigError, FileNotFoundError) as err:
        print(f"thinkvl data filter: {err}", file=sys.stderr)
        return 2
    print(report.table())
    print(f"report: {Path(cfg.output) / 'report.json'}; dropped samples: {Path(cfg.output) / 'dropped'}/")
    return 0


def _interleaved(args: argparse.Namespace) -> int:
    from thinkvl.config import config_from_args
    from thinkvl.data.pipeline.interleaved import InterleavedConfig, build_interleaved

    try:
        cfg = config_from_args(InterleavedConfig, args, args.config)
        report = build_interleaved(cfg)
    except (ConfigError, FileNotFoundError, ValueError) as err:
        print(f"thinkvl data interleaved: {err}", file=sys.stderr)
        return 2
    print(report.table())
    print(f"report: {Path(cfg.output) / 'report.json'}")
    return 0


def _documents(args: argparse.Namespace) -> int:
    from thinkvl.data.pipeline.documents import build_documents

    source = Path(args.pdfs)
    pdfs = sorted(source.glob("*.pdf")) if source.is_dir() else [source]
    try:
        if not pdfs or not all(p.is_file() for p in pdfs):
            raise FileNotFoundError(f"no PDF at {source}")
        if not (Path(args.model) / "config.json").is_file():
            raise FileNotFoundError(f"{args.model} is not a model directory (no config.json)")
        from transformers import AutoProcessor

        processor = AutoProcessor.from_pretrained(args.model)
        counts = build_documents(pdfs, args.out, processor, args.target_tokens, dpi=args.dpi, max_pages=args.max_pages)
    except (FileNotFoundError, ValueError, ImportError) as err:
        print(f"thinkvl data documents: {err}", file=sys.stderr)
        return 2
    print(json.dumps(counts))
    return 0


def _recaption(args: argparse.Namespace) -> int:
    from thinkvl.data.pipeline.recaption import DEFAULT_PROMPT, RecaptionConfig, recaption

    try:
        cfg = RecaptionConfig(
            model=args.model,
            data=args.data,
            out=args.out,
            prompt=args.prompt or DEFAULT_PROMPT,
            batch_size=args.batch_size,
            max_new_tokens=args.max_new_tokens,
            do_sample=args.sample,
            temperature=args.temperature,
            enable_thinking=args.thinking,
            device=args.device,
            dtype=args.dtype,
            limit=args.limit,
        )
        stats = recaption(cfg, progress=not args.quiet)
    except (ConfigError, FileNotFoundError) as err:
        print(f"thinkvl data recaption: {err}", file=sys.stderr)
        return 2
    print(json.dumps(dataclasses.asdict(stats)))
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add `filter`, `interleaved`, `documents` and `recaption` to a subparsers object (under `thinkvl data`)."""
    p = subparsers.add_parser(
        "filter",
        help="run a chain of filters (quality, CLIP relevance, dedup) from a YAML config",
        description="Filter a dataset with the chain of filters set in CONFIG (see configs/data_filter_demo.yaml).",
    )
    p.add_argument("config", help="YAML config (input, output, filters, ...)")
    p.add_argument("--input", help="dataset directory to read (overrides the config)")
    p.add_argument("--output", help="dataset directory to write (overrides the config)")
    p.add_argument("--workers", type=int, help="worker processes, or Ray actors with --ray (overrides the config)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("--ray", action="store_true", help="run on Ray Data (a running cluster, or a local instance)")
    p.add_argument("--ray-address", help="Ray cluster address (default: the running one, else a local one)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_filter)

    i = subparsers.add_parser(
        "interleaved",
        help="interleaved image-text documents from an OBELICS/MINT-style parquet corpus, filtered as the report does",
        description="Read parquet documents (parallel texts/images lists), filter images and documents (quality, CLIP "
        "relevance, dedup), write interleaved records and report.json (see configs/data_interleaved.yaml).",
    )
    i.add_argument("--config", help="YAML with fields of InterleavedConfig; the flags below override it")
    add_config_flags_later(i, "thinkvl.data.pipeline.interleaved:InterleavedConfig")
    i.set_defaults(func=_interleaved)

    d = subparsers.add_parser(
        "documents",
        help="PDFs → page images with their text: OCR records and long interleaved records for long-context training",
        description="Render every page (pypdfium2), keep its text layer; write one OCR record per page and long "
        "interleaved records (page image, page text, …) of at most --target-tokens tokens.",
    )
    d.add_argument("--pdfs", required=True, help="a PDF file or a directory of them")
    d.add_argument("--out", required=True, help="dataset directory to write (records.jsonl, images/)")
    d.add_argument("--model", required=True, help="model directory whose processor counts the tokens")
    d.add_argument("--target-tokens", type=int, default=32768, help="longest interleaved record (the pack length)")
    d.add_argument("--dpi", type=float, default=144, help="page rendering resolution")
    d.add_argument("--max-pages", type=int, default=0, help="pages per PDF (0: all)")
    d.set_defaults(func=_documents)

    r = subparsers.add_parser(
        "recaption",
        help="rewrite captions with a VLM (keeps the original; batched; resumable)",
        description="Rewrite meta['caption'] of every record with a local transformers VLM; rerun to resume.",
    )
    r.add_argument("--model", required=True, help="local VLM directory (AutoProcessor + AutoModelForImageTextToText)")
    r.add_argument("--data", required=True, help="dataset directory to read")
    r.add_argument("--out", required=True, help="dataset directory to write (rerun with the same --out to resume)")
    r.add_argument("--prompt", help="user prompt; '{caption}' is replaced by the current caption")
    r.add_argument("--batch-size", type=int, default=8, help="records per generate call and per flush")
    r.add_argument("--max-new-tokens", type=int, default=96, help="longest generated caption")
    r.add_argument("--sample", action="store_true", help="sample instead of greedy decoding")
    r.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (with --sample)")
    r.add_argument("--thinking", action="store_true", help="let a thinking model think; only the answer is kept")
    r.add_argument("--device", default="cpu", help="torch device")
    r.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"], help="weights dtype")
    r.add_argument("--limit", type=int, default=0, help="stop after this many new records (0: all)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=_recaption)

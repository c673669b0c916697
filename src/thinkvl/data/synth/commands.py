"""`thinkvl data synth` (write a built-in synthetic dataset) and `thinkvl data show` (summarise one)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console

from thinkvl.data.loaders import load_records
from thinkvl.data.record import RecordError
from thinkvl.data.synth.registry import FAMILIES
from thinkvl.data.synth.show import contact_sheet, summary_table
from thinkvl.data.synth.writer import write_dataset


def _domains(text: str) -> list[str]:
    names = [d.strip() for d in text.split(",") if d.strip()]
    unknown = [d for d in names if d not in FAMILIES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown domain(s) {unknown or text!r}; known: {', '.join(FAMILIES)}")
    return names


def _levels(text: str) -> list[int]:
    try:
        levels = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"levels must be comma-separated integers, got {text!r}") from None
    if not levels or any(v < 0 for v in levels):
        raise argparse.ArgumentTypeError(f"levels must be non-negative integers, got {text!r}")
    return levels


def _synth(args: argparse.Namespace) -> int:
    console = Console()
    try:
        records = write_dataset(
            args.out, args.domains, n=args.n, seed=args.seed, levels=args.levels, progress=True, exclude=args.exclude
        )
    except (ValueError, RecordError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    console.print(summary_table(records, title=f"{len(records)} records written to {args.out}"))
    return 0


def _show(args: argparse.Namespace) -> int:
    console = Console()
    try:
        dataset = load_records(args.dir, check_media=args.check_media)
        console.print(summary_table(dataset.records, title=f"{len(dataset)} records in {args.dir}"))
        if args.contact_sheet:
            out = contact_sheet(dataset.records, dataset.root, args.contact_sheet, per_domain=args.per_domain)
            console.print(f"contact sheet: {out}")
    except (ValueError, RecordError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add `synth` and `show` to the given subparsers (they live under `thinkvl data`)."""
    synth = subparsers.add_parser(
        "synth",
        help="write a built-in synthetic multi-domain dataset (records.jsonl + images)",
        description="Write N records per domain, spread evenly over the chosen difficulty levels. "
        "The same seed always gives the same records, whatever else is asked for; no item occurs twice, "
        "and --exclude keeps out the items of other datasets.",
    )
    synth.add_argument("--domains", type=_domains, default=None, help=f"comma list (default all: {','.join(FAMILIES)})")
    synth.add_argument("--n", type=int, default=100, help="records per domain (default 100)")
    synth.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    synth.add_argument("--levels", type=_levels, default=None, help="comma list of difficulty levels (default all)")
    synth.add_argument("--out", type=Path, required=True, help="output directory")
    synth.add_argument(
        "--exclude",
        type=Path,
        nargs="+",
        default=[],
        metavar="DIR",
        help="datasets whose items (same pixels, question and answer) must not occur in this one: e.g. the "
        "training set when writing a held-out set; taken slots are re-drawn, so the count stays --n",
    )
    synth.set_defaults(func=_synth)

    show = subparsers.add_parser("show", help="counts by domain and difficulty; optionally a contact-sheet PNG")
    show.add_argument("dir", type=Path, help="dataset directory (or records file)")
    show.add_argument("--contact-sheet", type=Path, default=None, help="write a PNG of examples per domain here")
    show.add_argument("--per-domain", type=int, default=6, help="examples per domain in the contact sheet")
    show.add_argument("--check-media", action="store_true", help="open every image to check it exists and decodes")
    show.set_defaults(func=_show)

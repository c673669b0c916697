"""Look at a dataset: counts by domain and difficulty (with the majority-answer share, the baseline a model must
beat), and a contact sheet PNG with sample images, questions and answers per domain (videos as frame strips)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw
from rich.table import Table

from thinkvl.data.record import Record, content_parts, open_image
from thinkvl.data.synth.base import box_string
from thinkvl.data.synth.draw import BLACK, WHITE, font

THUMB = 160  # longest side of an image in the sheet
FRAME = 80  # side of one video step in a strip
TEXT_SIZE = 12
PAD = 8


def answer_key(record: Record) -> str:
    """The answer as one comparable string (what the majority baseline would output)."""
    return record.meta.get("boxed") or box_string(record.answer)


def summary_table(records: Sequence[Record], title: str = "") -> Table:
    """Records per domain and difficulty, the number of distinct answers, and the majority-answer share."""
    by_domain: dict[str, Counter] = defaultdict(Counter)
    answers: dict[str, Counter] = defaultdict(Counter)
    for r in records:
        by_domain[r.domain][r.difficulty] += 1
        answers[r.domain][answer_key(r)] += 1
    levels = sorted({lv for c in by_domain.values() for lv in c}, key=lambda v: (v is None, v))
    table = Table(title=title or None)
    table.add_column("domain")
    for lv in levels:
        table.add_column("no level" if lv is None else f"L{lv}", justify="right")
    table.add_column("total", justify="right")
    table.add_column("answers", justify="right")
    table.add_column("majority", justify="right")
    for domain in sorted(by_domain):
        counts = by_domain[domain]
        total = sum(counts.values())
        top = answers[domain].most_common(1)[0][1]
        cells = [str(counts.get(lv, 0)) for lv in levels]
        table.add_row(domain, *cells, str(total), str(len(answers[domain])), f"{top / total:.0%}")
    return table


def pick_examples(records: Sequence[Record], per_domain: int) -> dict[str, list[Record]]:
    """Up to ``per_domain`` records per domain, taken from each difficulty in turn so every level shows."""
    pools: dict[str, dict] = defaultdict(lambda: defaultdict(list))
    for r in records:
        pools[r.domain][r.difficulty].append(r)
    chosen: dict[str, list[Record]] = {}
    for domain in sorted(pools):
        queues = [pools[domain][lv] for lv in sorted(pools[domain], key=lambda v: (v is None, v))]
        picks: list[Record] = []
        while len(picks) < per_domain and any(queues):
            for q in queues:
                if q and len(picks) < per_domain:
                    picks.append(q.pop(0))
        chosen[domain] = picks
    return chosen


def _fit(img: Image.Image, side: int) -> Image.Image:
    scale = side / max(img.size)
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    # Nearest keeps small synthetic pixels crisp when enlarging.
    return img.resize(size, Image.Resampling.NEAREST if scale >= 1 else Image.Resampling.LANCZOS)


def _visual(record: Record, root: Path) -> Image.Image:
    """The record's image, or a strip of one frame per temporal step labelled with its time."""
    parts = [p for m in record.messages for p in content_parts(m["content"]) if p.get("type") in ("image", "video")]
    if not parts:
        placeholder = Image.new("RGB", (THUMB, THUMB // 4), (225, 225, 225))
        ImageDraw.Draw(placeholder).text((4, 4), "(text only)", font=font(TEXT_SIZE), fill=BLACK)
        return placeholder
    part = parts[0]
    if part["type"] == "image":
        return _fit(open_image(root / part["image"]), THUMB)
    frames, fps = part["video"], part["fps"]
    # glm4v shows frames in pairs, labelled with the first frame's time: draw the first of each pair.
    steps = list(range(0, len(frames), 2))
    strip = Image.new("RGB", (len(steps) * (FRAME + 4) - 4, FRAME + 16), WHITE)
    draw = ImageDraw.Draw(strip)
    for i, k in enumerate(steps):
        x = i * (FRAME + 4)
        strip.paste(_fit(open_image(root / frames[k]), FRAME), (x, 0))
        draw.rectangle((x, 0, x + FRAME - 1, FRAME - 1), outline=(160, 160, 160))
        draw.text((x + FRAME / 2, FRAME + 2), f"t={int(k / fps)}s", font=font(TEXT_SIZE), fill=BLACK, anchor="ma")
    return strip


def _wrap(text: str, width: int, max_lines: int) -> list[str]:
    f = font(TEXT_SIZE)
    lines: list[str] = []
    for paragraph in text.splitlines():
        line = ""
        for word in paragraph.split():
            trial = f"{line} {word}".strip()
            if line and f.getlength(trial) > width:
                lines.append(line)
                line = word
            else:
                line = trial
        lines.append(line)
    if len(lines) > max_lines:
        lines = lines[: max_lines - 1] + [lines[max_lines - 1] + " …"]
    return lines


def _tile(record: Record, root: Path) -> Image.Image:
    visual = _visual(record, root)
    width = max(visual.width, 200)
    text = [f"{record.id} (L{record.difficulty})"] + _wrap(record.question, width, 7)
    text.append(f"answer: {answer_key(record)}")
    line_h = TEXT_SIZE + 3
    tile = Image.new("RGB", (width, visual.height + 4 + line_h * len(text)), WHITE)
    tile.paste(visual, (0, 0))
    draw = ImageDraw.Draw(tile)
    for i, line in enumerate(text):
        colour = (0, 110, 0) if i == len(text) - 1 else ((110, 110, 110) if i == 0 else BLACK)
        draw.text((0, visual.height + 4 + i * line_h), line, font=font(TEXT_SIZE), fill=colour)
    return tile


def contact_sheet(records: Sequence[Record], root: str | Path, out: str | Path, per_domain: int = 6) -> Path:
    """Write a PNG with one row per domain of up to ``per_domain`` examples (image, question, answer)."""
    if not records:
        raise ValueError("no records to draw")
    if per_domain < 1:
        raise ValueError(f"per_domain must be >= 1, got {per_domain}")
    root = Path(root)
    rows = [(domain, [_tile(r, root) for r in picks]) for domain, picks in pick_examples(records, per_domain).items()]
    label_w = 90
    widths = [label_w + sum(t.width + PAD for t in tiles) for _, tiles in rows]
    heights = [max(t.height for t in tiles) + 2 * PAD for _, tiles in rows]
    sheet = Image.new("RGB", (max(widths) + PAD, sum(heights)), (240, 240, 240))
    draw = ImageDraw.Draw(sheet)
    y = 0
    for (domain, tiles), h in zip(rows, heights):
        draw.text((PAD, y + PAD), domain, font=font(16), fill=BLACK)
        x = label_w
        for t in tiles:
            sheet.paste(t, (x, y + PAD))
            x += t.width + PAD
        y += h
        draw.line((0, y - 1, sheet.width, y - 1), fill=(200, 200, 200))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    return out

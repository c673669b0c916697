"""Score the coding benchmarks by rendering: the runner's scorer for Design2Code and Flame-React.

Same contract as `thinkvl.reward.RewardSystem` (``score_batch(texts, records) -> verdicts``, a context manager),
so the runner treats them alike; the reward system's format gate and box extraction read the code out of the
response first. Per item it keeps what was measured (`details`), which the runner saves with the prediction.

- Design2Code: the generated HTML and the reference HTML are both rendered; the score is the mean of block-match,
  text, position, colour and CLIP similarity (`thinkvl.eval.render.design2code`).
- Flame-React: the generated component is compiled and mounted; its screenshot is compared with the design image
  (cosine of the CLIP vision tower's mean hidden state, images padded to one size), times Flame's code score (0
  when the reference has hooks or event handlers and the answer none); a blank page or one that failed scores 0.

The CLIP checkpoint is a local directory (transformers format; Design2Code uses ViT-B/32,
``openai/clip-vit-base-patch32``): nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image

from thinkvl.data.record import Record, content_parts, media_path
from thinkvl.eval.render import design2code, react
from thinkvl.eval.render.browser import Browser, Rendering
from thinkvl.model.tokens import THINK_CLOSE
from thinkvl.reward.extract import extract_lenient, extract_strict
from thinkvl.reward.verdict import Verdict

Kind = Literal["design2code", "flame"]
_FENCE = re.compile(r"^\s*```[\w-]*\s*\n(.*?)\n?```\s*$", re.S)
_ANY_FENCE = re.compile(r"```[\w-]*[ \t]*\n(.*?)```", re.S)
_HTML_TAG = re.compile(r"<html[^>]*>", re.I)


def strip_fence(code: str) -> str:
    """The code inside one Markdown fence (```html … ```), or the text as it is."""
    m = _FENCE.match(code)
    return m.group(1) if m else code.strip()


def as_page(html: str) -> str:
    """Text without an ``<html>`` element is wrapped as a paragraph of a page, as Design2Code's scorer does."""
    return html if _HTML_TAG.search(html) else f"<html><body><p>{html}</p></body></html>"


def is_blank(image: Image.Image) -> bool:
    """Every pixel the colour of the first one (Flame's test for a page that showed nothing)."""
    arr = np.asarray(image.convert("RGB"))
    return bool((arr == arr[0, 0]).all())


def inpaint_text(image: Image.Image, blocks: list[Any]) -> Image.Image:
    """The screenshot with its text boxes painted over from their surroundings (OpenCV's Telea inpainting, as
    Design2Code), so that CLIP compares layout and images rather than text."""
    if not blocks:
        return image
    import cv2

    bgr = cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2BGR)
    h, w = bgr.shape[:2]
    mask = np.zeros((h, w), dtype=np.uint8)
    for b in blocks:
        x, y, bw, bh = b.bbox
        mask[int(y * h) : int(y * h) + int(bh * h), int(x * w) : int(x * w) + int(bw * w)] = 255
    return Image.fromarray(cv2.cvtColor(cv2.inpaint(bgr, mask, 3, cv2.INPAINT_TELEA), cv2.COLOR_BGR2RGB))


def squeeze_square(image: Image.Image) -> Image.Image:
    side = min(image.size)
    return image.resize((side, side), Image.LANCZOS)


def pad_pair(a: Image.Image, b: Image.Image) -> tuple[Image.Image, Image.Image]:
    """Both images on black canvases of their common maximum size, top-left aligned (Flame's padding)."""
    size = (max(a.width, b.width), max(a.height, b.height))
    out = []
    for img in (a, b):
        canvas = Image.new("RGB", size)
        canvas.paste(img.convert("RGB"), (0, 0))
        out.append(canvas)
    return out[0], out[1]


def _first_image(record: Record) -> str | None:
    for message in record.messages:
        if isinstance(message["content"], str):
            continue
        for part in content_parts(message["content"]):
            if part.get("type") == "image":
                return str(part["image"])
    return None


class RenderScorer:
    """Verdicts for coding answers by rendering them; ``details(id)`` is what was measured for one item."""

    def __init__(
        self,
        kind: Kind,
        root: str | Path,
        *,
        clip_model: str | Path,
        lenient: bool = False,
        timeout: float = 30.0,
        pass_threshold: float = 0.9,
        browser: Browser | None = None,
    ):
        if kind not in ("design2code", "flame"):
            raise ValueError(f"unknown render benchmark {kind!r}")
        from thinkvl.data.pipeline.relevance import ClipScorer

        self.kind, self.root, self.lenient = kind, Path(root), lenient
        self.pass_threshold = pass_threshold
        self.clip = ClipScorer(clip_model)
        self._own_browser = browser is None
        self.browser = browser or Browser(timeout=timeout)
        self._details: dict[str, dict[str, Any]] = {}
        self._references: dict[str, Rendering] = {}

    def close(self) -> None:
        if self._own_browser:
            self.browser.close()

    def __enter__(self) -> RenderScorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def details(self, record_id: str) -> dict[str, Any]:
        return self._details.get(record_id, {})

    # ------------------------------------------------------------------ the runner's interface
    def score_batch(
        self, texts: list[str], records: list[Record], *, workers: int | None = 1, **_: Any
    ) -> list[Verdict]:
        """One verdict per response (``workers`` is accepted for the runner's sake: one browser renders in turn)."""
        codes = [self._extract(t) for t in texts]
        if self.kind == "design2code":
            return [self._design2code(code, problem, rec) for (code, problem), rec in zip(codes, records)]
        sources = [code or "" for code, _ in codes]
        compiled = react.compile_components([react.split_response(s)[1] for s in sources])
        refs = react.compile_components([str(r.answer) for r in records])
        return [
            self._flame(code, problem, build, ref, rec)
            for (code, problem), build, ref, rec in zip(codes, compiled, refs, records)
        ]

    def _extract(self, text: str) -> tuple[str | None, str | None]:
        if self.lenient:  # other models: the longest fenced block after the thought, else the lenient answer
            fences = _ANY_FENCE.findall(text.rsplit(THINK_CLOSE, 1)[-1])
            if fences:
                return max(fences, key=len).strip(), None
        got = (extract_lenient if self.lenient else extract_strict)(text)
        if got.answer is None:
            return None, "; ".join(got.problems) or "no answer"
        return strip_fence(got.answer), None

    def _verdict(self, rec: Record, score: float, code: str | None, reason: str, details: dict[str, Any]) -> Verdict:
        self._details[rec.id] = {"render": details}
        ok = score >= self.pass_threshold
        shown = code[:200] if code else None
        return Verdict(score, ok, shown, code is not None, domain=rec.domain, reason=reason, score=score)

    # ------------------------------------------------------------------ Design2Code
    def _design2code(self, code: str | None, problem: str | None, rec: Record) -> Verdict:
        if code is None:
            return self._verdict(rec, 0.0, None, f"format: {problem}", {"error": problem})
        gen = self.browser.render(as_page(code))
        ref = self._reference_page(str(rec.answer))
        if not ref.ok:
            raise ValueError(f"{rec.id}: the reference page did not render: {ref.error}")
        if not gen.ok:
            return self._verdict(rec, 0.0, code, f"render: {gen.error}", {"error": gen.error})
        clip = self._clip(gen, ref)
        scores = design2code.block_scores(gen.blocks, ref.blocks, clip)
        parts = scores.as_dict()
        reason = ", ".join(f"{k} {v:.2f}" for k, v in parts.items())
        return self._verdict(rec, max(0.0, min(1.0, scores.final)), code, reason, parts)

    def _reference_page(self, html: str) -> Rendering:
        """The reference rendered once per run (items often share a page across budgets and resumes)."""
        key = hashlib.sha256(html.encode("utf-8")).hexdigest()
        if key not in self._references:
            if len(self._references) >= 64:
                self._references.pop(next(iter(self._references)))
            self._references[key] = self.browser.render(as_page(html))
        return self._references[key]

    def _clip(self, gen: Rendering, ref: Rendering) -> float:
        assert gen.image is not None and ref.image is not None
        images = [squeeze_square(inpaint_text(r.image, r.blocks)) for r in (gen, ref)]  # type: ignore[arg-type]
        emb = self.clip.image_embeddings(images)
        return float((emb[0] * emb[1]).sum())

    # ------------------------------------------------------------------ Flame-React
    def _flame(
        self, code: str | None, problem: str | None, build: react.Compiled, ref: react.Compiled, rec: Record
    ) -> Verdict:
        if code is None:
            return self._verdict(rec, 0.0, None, f"format: {problem}", {"error": problem})
        if not build.ok or build.js is None:
            return self._verdict(rec, 0.0, code, f"compile: {build.error}", {"compiled": False, "error": build.error})
        css, _ = react.split_response(code)
        page = self.browser.render(react.component_page(build.js, css), react.page_files())
        details: dict[str, Any] = {"compiled": True, "rendered": page.ok, "page_errors": page.page_errors[:3]}
        if not page.ok or page.image is None or is_blank(page.image):
            why = page.error or (page.page_errors[0] if page.page_errors else "the page shows nothing")
            return self._verdict(rec, 0.0, code, f"render: {why}", {**details, "error": why})
        image = _first_image(rec)
        if image is None:
            raise ValueError(f"{rec.id}: no design image to compare with")
        with Image.open(media_path(self.root, image)) as design:
            a, b = pad_pair(page.image, design)
        emb = self.clip.image_token_means([a, b])
        similarity = float(torch_cosine(emb[0], emb[1]))
        code_score = 0.0 if build.behaviour == 0 and ref.behaviour > 0 else 1.0
        score = max(0.0, min(1.0, similarity * code_score))
        details |= {"visual": round(similarity, 4), "code": code_score, "metrics": build.metrics}
        reason = f"visual {similarity:.3f} x code {code_score:g}"
        return self._verdict(rec, score, code, reason, details)


def torch_cosine(a: Any, b: Any) -> float:
    return float((a @ b) / (a.norm() * b.norm()).clamp_min(1e-12))

"""Design2Code's visual score (Si et al. 2024, arXiv 2403.03163; the released scorer is
``Design2Code/metrics/visual_score.py`` of NoviScl/Design2Code), on the text blocks of two rendered pages.

Blocks of the generated page (G) and the reference (R) are matched by text similarity with the Jonker-Volgenant
assignment, after merging neighbouring blocks where that improves the matching (blocks come at different
granularity); pairs whose texts are under 0.5 similar are dropped. Then, over the matched pairs:

- block-match: the matched blocks' area over the area of all blocks, matched or not (missing and invented blocks
  both cost);
- text: mean character-level similarity (``difflib.SequenceMatcher.ratio``, as the released scorer);
- position: mean of 1 − the larger of the centres' horizontal and vertical distance (page fractions);
- colour: mean of max(0, 1 − CIEDE2000 / 100) between the texts' colours;
- CLIP: cosine similarity of the two screenshots' CLIP embeddings, text inpainted away, squeezed to squares.

The final score is the mean of the five. With no blocks on either side, or none matched, the four block scores
are 0 and the final score is CLIP / 5, as released. Pure functions: no browser, no model.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from difflib import SequenceMatcher
from statistics import mean

import numpy as np
from scipy.optimize import linear_sum_assignment

from thinkvl.eval.render.browser import TextBlock

MIN_TEXT_SIMILARITY = 0.5  # matched pairs below this are dropped
MERGE_GAIN = 0.05  # a neighbour merge is kept when it improves the matched costs by more than this
CONTEXT_BONUS, CONTEXT_WINDOW = 0.1, 1  # the final matching favours pairs whose neighbours match too


@dataclass(frozen=True)
class VisualScore:
    block_match: float
    text: float
    position: float
    color: float
    clip: float

    @property
    def final(self) -> float:
        return (self.block_match + self.text + self.position + self.color + self.clip) / 5

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in vars(self).items()} | {"final": round(self.final, 4)}


def text_similarity(a: str, b: str) -> float:
    return SequenceMatcher(None, a, b).ratio()


def color_similarity(rgb1: tuple[int, int, int], rgb2: tuple[int, int, int]) -> float:
    """max(0, 1 − ΔE2000/100): 1 for the same colour."""
    from skimage.color import deltaE_ciede2000, rgb2lab

    lab = rgb2lab(np.array([[rgb1, rgb2]], dtype=np.float64) / 255.0)[0]
    return max(0.0, 1.0 - float(deltaE_ciede2000(lab[0], lab[1])) / 100.0)


def merge_same_box(blocks: list[TextBlock]) -> list[TextBlock]:
    """Blocks with the very same box become one (texts joined, colours averaged)."""
    merged: dict[tuple[float, ...], TextBlock] = {}
    for b in blocks:
        old = merged.get(b.bbox)
        if old is None:
            merged[b.bbox] = b
        else:
            colour = tuple(int((x + y) / 2) for x, y in zip(old.color, b.color))
            merged[b.bbox] = replace(old, text=old.text + " " + b.text, color=colour)  # type: ignore[arg-type]
    return list(merged.values())


def merge_two(a: TextBlock, b: TextBlock) -> TextBlock:
    x0, y0 = min(a.bbox[0], b.bbox[0]), min(a.bbox[1], b.bbox[1])
    x1 = max(a.bbox[0] + a.bbox[2], b.bbox[0] + b.bbox[2])
    y1 = max(a.bbox[1] + a.bbox[3], b.bbox[1] + b.bbox[3])
    colour = tuple((x + y) // 2 for x, y in zip(a.color, b.color))
    return TextBlock(a.text + " " + b.text, (x0, y0, x1 - x0, y1 - y0), colour)  # type: ignore[arg-type]


def _similarities(a: list[TextBlock], b: list[TextBlock]) -> np.ndarray:
    return np.array([[text_similarity(x.text, y.text) for y in b] for x in a], dtype=np.float64).reshape(len(a), len(b))


def _with_context(cost: np.ndarray, bonus: float, window: int) -> np.ndarray:
    """A good pair's cost is lowered by its neighbourhood's best costs (as released: blocks matched in runs)."""
    if bonus == 0 or window <= 0:
        return cost
    out = cost.copy()
    n, m = cost.shape
    for i in range(n):
        for j in range(m):
            if cost[i, j] >= -0.5:
                continue
            near = np.sort(cost[max(0, i - window) : i + window + 1, max(0, j - window) : j + window + 1].ravel())[::-1]
            near = np.delete(near, np.where(near == cost[i, j])[0][0])
            out[i, j] += bonus * near[-window * 2 :].sum()
    return out


def _assign(cost: np.ndarray) -> tuple[list[tuple[int, int]], list[float]]:
    rows, cols = linear_sum_assignment(cost)
    return list(zip(rows.tolist(), cols.tolist())), cost[rows, cols].tolist()


def _gain(current: list[float], updated: list[float]) -> float:
    """How much a merge improved the matched costs: means of what differs between the two multisets."""
    c1, c2 = Counter(current), Counter(updated)
    common = c1 & c2
    rest1, rest2 = list((c1 - common).elements()), list((c2 - common).elements())
    m1, m2 = (mean(rest1) if rest1 else 0.0), (mean(rest2) if rest2 else 0.0)
    if m1 - m2 > 0:
        return m1 - m2 if min(rest1) > min(rest2) else 0.0
    return m1 - m2


def _merge_side(blocks: list[TextBlock], other: list[TextBlock], sims: np.ndarray, gen_side: bool) -> list[TextBlock]:
    """Merge the neighbour pairs of ``blocks`` whose merging lowers the matching cost by more than MERGE_GAIN.

    ``sims`` is generated × reference; ``gen_side`` says which side ``blocks`` is (similarity is taken generated text
    first, as released: ``SequenceMatcher`` is not exactly symmetric)."""
    if len(blocks) < 2:
        return blocks
    cost = -(sims if gen_side else sims.T)  # rows: `blocks`; an assignment's cost multiset ignores orientation
    _, current = _assign(cost)
    gains = []
    for i in range(len(blocks) - 1):
        text = merge_two(blocks[i], blocks[i + 1]).text
        row = [text_similarity(text, o.text) if gen_side else text_similarity(o.text, text) for o in other]
        trial = np.delete(cost, i + 1, axis=0)
        trial[i] = -np.array(row)
        _, updated = _assign(trial)
        gain = _gain(current, updated)
        if gain > MERGE_GAIN:
            gains.append((gain, i))
    if not gains:
        return blocks
    merged, dropped, used = list(blocks), set(), set()
    for _, i in sorted(gains, key=lambda g: -g[0]):
        if i in used or i + 1 in used:
            continue
        merged[i] = merge_two(merged[i], merged[i + 1])
        dropped.add(i + 1)
        used |= {i, i + 1}
    return [b for k, b in enumerate(merged) if k not in dropped]


def match_blocks(
    gen: list[TextBlock], ref: list[TextBlock]
) -> tuple[list[TextBlock], list[TextBlock], list[tuple[int, int, float]]]:
    """(merged generated blocks, merged reference blocks, [(i, j, text similarity)]) of the pairs kept."""
    while True:
        sims = _similarities(gen, ref)
        new_gen = _merge_side(gen, ref, sims, gen_side=True)
        changed = new_gen is not gen
        gen = new_gen
        sims = _similarities(gen, ref)
        new_ref = _merge_side(ref, gen, sims, gen_side=False)
        changed = changed or new_ref is not ref
        ref = new_ref
        if not changed:
            break
    sims = _similarities(gen, ref)
    pairs, _ = _assign(_with_context(-sims, CONTEXT_BONUS, CONTEXT_WINDOW))
    kept = [(i, j, float(sims[i, j])) for i, j in pairs if sims[i, j] >= MIN_TEXT_SIMILARITY]
    return gen, ref, kept


def _area(b: TextBlock) -> float:
    return b.bbox[2] * b.bbox[3]


def _centre(b: TextBlock) -> tuple[float, float]:
    return b.bbox[0] + b.bbox[2] / 2, b.bbox[1] + b.bbox[3] / 2


def block_scores(gen: list[TextBlock], ref: list[TextBlock], clip: float) -> VisualScore:
    """The five scores of one generated page against its reference, given their CLIP similarity."""
    gen, ref = merge_same_box(gen), merge_same_box(ref)
    if not gen or not ref:
        return VisualScore(0.0, 0.0, 0.0, 0.0, clip)
    gen_m, ref_m, pairs = match_blocks(gen, ref)
    if not pairs:
        return VisualScore(0.0, 0.0, 0.0, 0.0, clip)
    matched_gen, matched_ref = {i for i, _, _ in pairs}, {j for _, j, _ in pairs}
    unmatched = sum(_area(b) for k, b in enumerate(gen_m) if k not in matched_gen)
    unmatched += sum(_area(b) for k, b in enumerate(ref_m) if k not in matched_ref)
    matched = [_area(gen_m[i]) + _area(ref_m[j]) for i, j, _ in pairs]
    positions, colours = [], []
    for i, j, _ in pairs:
        (gx, gy), (rx, ry) = _centre(gen_m[i]), _centre(ref_m[j])
        positions.append(1 - max(abs(gx - rx), abs(gy - ry)))
        colours.append(color_similarity(gen_m[i].color, ref_m[j].color))
    total = sum(matched) + unmatched
    return VisualScore(
        block_match=sum(matched) / total if total > 0 else 0.0,
        text=mean(s for _, _, s in pairs),
        position=mean(positions),
        color=mean(colours),
        clip=clip,
    )

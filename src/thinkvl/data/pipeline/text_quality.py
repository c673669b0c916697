"""Text quality: ads and boilerplate, low information density, language.

Cheap rules in the spirit of web-corpus cleaning (C4, Gopher, DataComp): a caption is dropped when it is too
short or long, mostly symbols or URLs, repeats itself, contains ad or boilerplate phrases, or is not in the
wanted language. Language is judged by script (and, for English, by the share of common stop words): a
heuristic that needs no model; a language-ID model could replace `language_problem` where one is available.

>>> f = TextQualityFilter(TextQualityConfig())
>>> text_problem("A red circle on a white background.", f.cfg, f._ads)
>>> text_problem("BUY NOW!!! 50% off, free shipping at www.shop.example.com", f.cfg, f._ads)
'ad: 3 ad/boilerplate phrases (buy now, % off, free shipping)'
"""

from __future__ import annotations

import re

from thinkvl.data.pipeline.base import Filter, Reason, Sample, short
from thinkvl.data.pipeline.config import TextQualityConfig

# A Han character is a word of its own (Chinese has no spaces); anything else splits on whitespace.
_WORD = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\s\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_URL = re.compile(
    r"^\W*(?:https?://\S+|www\.\S+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+|[\w-]+(?:\.[\w-]+)*\.[a-z]{2,6}(?:/\S*)?)\W*$",
    re.IGNORECASE,
)
_STRIP = re.compile(r"^\W+|\W+$")
STOPWORDS = frozenset(
    "a an the of in on at to for from with by and or but is are was were be been it its this that these those "
    "there here he she they we you i his her their our your as into over under near next above below between "
    "has have had not no some two three one".split()
)


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def _is_han(ch: str) -> bool:
    o = ord(ch)
    return 0x3400 <= o <= 0x4DBF or 0x4E00 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF


def _is_latin(ch: str) -> bool:
    return ord(ch) < 0x250  # Basic Latin through Latin Extended-B


def ad_pattern(phrases: list[str]) -> re.Pattern[str]:
    """One regex for all phrases, anchored at word boundaries where the phrase starts/ends with a word char."""
    parts = []
    for phrase in sorted({p.strip().lower() for p in phrases}, key=len, reverse=True):
        body = r"\s+".join(re.escape(w) for w in phrase.split())
        left = r"\b" if re.match(r"\w", phrase) else ""
        right = r"\b" if re.search(r"\w$", phrase) else ""
        parts.append(f"{left}{body}{right}")
    return re.compile("|".join(parts) if parts else r"(?!x)x")


def language_problem(text: str, tokens: list[str], cfg: TextQualityConfig) -> Reason:
    if cfg.language == "any":
        return None
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return "language: no letters"
    in_script = sum(1 for ch in letters if (_is_latin(ch) if cfg.language == "en" else _is_han(ch)))
    ratio = in_script / len(letters)
    if ratio < cfg.min_language_ratio:
        return f"language: {ratio:.0%} of letters in the {cfg.language} script < {cfg.min_language_ratio:.0%}"
    if cfg.language == "en" and len(tokens) >= 6:  # short captions ("red circle, blue sky") have no stop words
        stops = sum(1 for t in tokens if _STRIP.sub("", t).lower() in STOPWORDS)
        if stops / len(tokens) < cfg.min_stopword_ratio:
            return f"language: {stops}/{len(tokens)} English stop words < {cfg.min_stopword_ratio:.0%}"
    return None


def text_problem(text: str, cfg: TextQualityConfig, ads: re.Pattern[str]) -> Reason:
    """Why a caption is unusable, or None."""
    tokens = words(text)
    n = len(tokens)
    if n < cfg.min_words:
        return f"too_short: {n} words < {cfg.min_words}"
    if n > cfg.max_words:
        return f"too_long: {n} words > {cfg.max_words}"
    chars = [ch for ch in text if not ch.isspace()]
    symbols = sum(1 for ch in chars if not ch.isalnum())
    if chars and symbols / len(chars) > cfg.max_symbol_ratio:
        return f"symbols: {symbols / len(chars):.0%} of characters are symbols > {cfg.max_symbol_ratio:.0%}"
    urls = sum(1 for t in tokens if _URL.match(t))
    if n and urls / n > cfg.max_url_ratio:
        return f"urls: {urls}/{n} words are URLs or addresses > {cfg.max_url_ratio:.0%}"
    found = ads.findall(text.lower())
    if len(found) > cfg.max_ad_phrases:
        shown = ", ".join(dict.fromkeys(" ".join(f.split()) for f in found))
        return f"ad: {len(found)} ad/boilerplate phrases ({short(shown, 80)})"
    lowered = [t.lower() for t in tokens]
    grams = list(zip(lowered, lowered[1:], lowered[2:], strict=False))
    if grams:
        repeated = (len(grams) - len(set(grams))) / len(grams)
        if repeated > cfg.max_repetition:
            return f"repetition: {repeated:.0%} of word 3-grams repeat > {cfg.max_repetition:.0%}"
    if n >= 4:
        unique = len(set(lowered)) / n
        if unique < cfg.min_unique_word_ratio:
            return f"repetition: only {unique:.0%} distinct words < {cfg.min_unique_word_ratio:.0%}"
    return language_problem(text, tokens, cfg)


class TextQualityFilter(Filter):
    name = "text_quality"

    def __init__(self, cfg: TextQualityConfig):
        self.cfg = cfg
        self._ads = ad_pattern(cfg.ad_phrases)

    def check(self, samples: list[Sample]) -> list[Reason]:
        out: list[Reason] = []
        for sample in samples:
            try:
                out.append(text_problem(sample.text(), self.cfg, self._ads))
            except ValueError as err:
                out.append(str(err))
        return out

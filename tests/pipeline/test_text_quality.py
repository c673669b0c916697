"""Text quality: real captions pass; ads, boilerplate, low information and other languages are dropped."""

from __future__ import annotations

import pytest

from thinkvl.data.pipeline.config import TextQualityConfig
from thinkvl.data.pipeline.text_quality import ad_pattern, text_problem

CFG = TextQualityConfig()
ADS = ad_pattern(CFG.ad_phrases)

GOOD = [
    "A red circle on a white background.",
    "Two dogs run across a snowy field near the edge of a forest.",
    "Bar chart of monthly sales in 2023: March is the highest at 42 units.",
    "A street sign reads 'Main St' next to a bakery with a blue door.",
    "Close-up of a cat sleeping on a wooden chair in the sun.",
    "The diagram shows a triangle ABC with a right angle at B and sides of 3, 4 and 5 cm.",
    "A garage sale sign taped to a lamp post.",  # 'sale' alone is not an ad
]


@pytest.mark.parametrize("text", GOOD)
def test_real_captions_pass(text: str) -> None:
    assert text_problem(text, CFG, ADS) is None


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "too_short"),
        ("sunset", "too_short"),
        ("Click here to buy now and get free shipping", "ad"),
        ("Stock photo of a woman smiling, royalty free", "ad"),
        ("Summer dresses 50% off this week only at our store", "ad"),
        ("Copyright 2021 Acme. All Rights Reserved.", "ad"),
        ("https://example.com/a.jpg https://example.com/b.jpg photo", "urls"),
        ("contact me at someone@example.org or example.net today", "urls"),
        ("★★★★★ >>> ### !!! $$$ %%% ^^^", "symbols"),
        ("cheap cheap cheap cheap cheap cheap cheap cheap", "repetition"),
        ("the cat the dog the cat the dog the cat the dog the cat the dog", "repetition"),
        ("Ein roter Kreis auf weißem Hintergrund mit vielen Wörtern darin", "language"),
        ("红色的圆形在白色的背景上", "language"),
        ("ковер красный квадрат круг синий", "language"),
        ("jpg png img dsc 1234 upload final final2 edit copy", "language"),
    ],
)
def test_bad_text_is_dropped_with_a_reason(text: str, code: str) -> None:
    reason = text_problem(text, CFG, ADS)
    assert reason is not None and reason.split(":")[0] == code, reason


def test_chinese_when_chinese_is_wanted() -> None:
    zh = TextQualityConfig(language="zh")
    assert text_problem("红色的圆形在白色的背景上", zh, ADS) is None
    assert text_problem("A red circle on a white background", zh, ADS).startswith("language")


def test_limits_are_configurable() -> None:
    lenient = TextQualityConfig(min_words=1, max_ad_phrases=3, language="any")
    assert text_problem("sunset", lenient, ADS) is None
    assert text_problem("Buy now, free shipping on this lamp", lenient, ad_pattern(lenient.ad_phrases)) is None


@pytest.mark.parametrize(
    "text",
    ["\x00" * 1000, "\u202e" * 50 + "abc", "🙂" * 500, "a" * 100_000, "[" * 5000, "\n\t " * 300, "é" * 10 + "\ud800"],
)
def test_adversarial_text_gets_a_verdict_not_an_exception(text: str) -> None:
    result = text_problem(text, CFG, ADS)
    assert result is None or isinstance(result, str)

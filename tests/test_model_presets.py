import torch
from transformers import Glm4vForConditionalGeneration

from thinkvl.model import build_config, create_bundle, get_preset
from thinkvl.model import tokens as T
from thinkvl.model.tokenizer import special_token_ids


def test_tiny_and_small_sizes():
    tiny = create_bundle("tiny")
    assert tiny.num_parameters <= 10_000_000
    small = create_bundle("small")
    assert 50_000_000 <= small.num_parameters <= 150_000_000


def test_9b_preset_matches_published_size_on_meta_device():
    ids = {t: 151329 + i for i, t in enumerate(T.SPECIAL_TOKENS)}
    config = build_config("glm-4.1v-9b", ids, vocab_size=151552)
    with torch.device("meta"):
        model = Glm4vForConditionalGeneration(config)
    n = sum(p.numel() for p in model.parameters())
    # GLM-4.1V-9B-Thinking is published as 10.3B parameters (safetensors index: 10,292,777,472).
    assert abs(n - 10.29e9) / 10.29e9 < 0.005


def test_unknown_preset_is_a_clear_error():
    try:
        get_preset("huge")
    except ValueError as err:
        assert "tiny" in str(err)
    else:
        raise AssertionError("expected ValueError")


def test_every_special_token_is_one_token_and_ids_match_config(tiny_bundle):
    tok = tiny_bundle.tokenizer
    ids = special_token_ids(tok)
    assert set(ids) == set(T.SPECIAL_TOKENS)
    assert len(set(ids.values())) == len(T.SPECIAL_TOKENS)
    cfg = tiny_bundle.model.config
    assert cfg.image_token_id == ids[T.IMAGE]
    assert cfg.video_token_id == ids[T.VIDEO]
    assert cfg.image_start_token_id == ids[T.BEGIN_OF_IMAGE]
    assert cfg.image_end_token_id == ids[T.END_OF_IMAGE]
    assert cfg.video_start_token_id == ids[T.BEGIN_OF_VIDEO]
    assert cfg.video_end_token_id == ids[T.END_OF_VIDEO]
    assert cfg.text_config.vocab_size >= len(tok)
    text = f"{T.THINK_OPEN}12 + 7 = 19{T.THINK_CLOSE}{T.ANSWER_OPEN}{T.BOX_OPEN}19{T.BOX_CLOSE}{T.ANSWER_CLOSE}"
    encoded = tok.encode(text, add_special_tokens=False)
    assert tok.decode(encoded) == text
    assert encoded[0] == ids[T.THINK_OPEN] and encoded[-1] == ids[T.ANSWER_CLOSE]
    # Unicode round-trips through the byte-level alphabet.
    assert tok.decode(tok.encode("数学 ∑ café", add_special_tokens=False)) == "数学 ∑ café"

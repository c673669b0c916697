import json

import torch
from transformers import AutoModelForImageTextToText

from thinkvl.model import load_bundle, save_bundle
from thinkvl.model.processor import encode_prompt


def test_save_load_roundtrip_and_plain_transformers(tiny_bundle, tmp_path, image_dir):
    directory = save_bundle(tiny_bundle, tmp_path / "model")
    loaded = load_bundle(directory)
    original = tiny_bundle.model.state_dict()
    assert all(torch.equal(original[k], v) for k, v in loaded.model.state_dict().items())
    assert loaded.tokenizer.get_vocab() == tiny_bundle.tokenizer.get_vocab()
    plain = AutoModelForImageTextToText.from_pretrained(directory)
    messages = [{"role": "user", "content": [{"type": "image", "image": "red.png"}, {"type": "text", "text": "?"}]}]
    inputs = encode_prompt(loaded.processor, messages, image_dir)
    with torch.no_grad():
        assert torch.allclose(plain(**inputs).logits, tiny_bundle.model(**inputs).logits, atol=1e-5)
    # Saving again over an existing directory replaces it whole.
    save_bundle(loaded, directory)
    assert not list(tmp_path.glob(".model*"))


def test_checkpoint_in_the_published_file_layout_loads(tiny_bundle, tmp_path):
    """GLM-4.1V's hub directory has preprocessor_config.json + video_preprocessor_config.json, not
    processor_config.json; load_bundle must read that layout too."""
    directory = save_bundle(tiny_bundle, tmp_path / "glm")
    combined = json.loads((directory / "processor_config.json").read_text())
    (directory / "processor_config.json").unlink()
    image = {**combined["image_processor"], "processor_class": "Glm4vProcessor"}
    video = {**combined["video_processor"], "processor_class": "Glm4vProcessor"}
    (directory / "preprocessor_config.json").write_text(json.dumps(image))
    (directory / "video_preprocessor_config.json").write_text(json.dumps(video))
    loaded = load_bundle(directory)
    assert type(loaded.processor).__name__ == "Glm4vProcessor"
    assert loaded.processor.image_processor.size == tiny_bundle.processor.image_processor.size


def test_load_bundle_rejects_a_non_model_directory(tmp_path):
    try:
        load_bundle(tmp_path)
    except FileNotFoundError as err:
        assert "config.json" in str(err)
    else:
        raise AssertionError("expected FileNotFoundError")


def test_left_padding_survives_save_and_load(tiny_bundle, tmp_path):
    loaded = load_bundle(save_bundle(tiny_bundle, tmp_path / "m"))
    assert loaded.tokenizer.padding_side == "left"

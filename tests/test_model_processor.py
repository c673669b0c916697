"""The seed's architectural claims, shown through our pipeline (processor → glm4v)."""

import numpy as np
import pytest
import torch
from PIL import Image

from thinkvl.model.chat import render_prompt
from thinkvl.model.processor import encode_prompt


def _image_prompt(path: str) -> list[dict]:
    return [{"role": "user", "content": [{"type": "image", "image": path}, {"type": "text", "text": "What?"}]}]


def _forward(bundle, inputs):
    with torch.no_grad():
        return bundle.model(**inputs).logits


def test_chat_template_equals_render_prompt(tiny_bundle):
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "image", "image": "a.png"}, {"type": "text", "text": "Count."}]},
        {"role": "assistant", "content": "<think>x</think><answer>y</answer>"},
        {"role": "user", "content": [{"type": "video", "video": ["f.png"], "fps": 1.0}, {"type": "text", "text": "?"}]},
    ]
    for thinking in (True, False):
        via_template = tiny_bundle.processor.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True, enable_thinking=thinking
        )
        assert via_template == render_prompt(messages, thinking=thinking)


@pytest.mark.parametrize("size", [(5600, 28), (28, 5600), (4096, 2160)])
def test_extreme_aspect_and_4k_images_run_forward(tiny_bundle, tmp_path, size):
    Image.new("RGB", size, "blue").save(tmp_path / "img.png")
    inputs = encode_prompt(tiny_bundle.processor, _image_prompt("img.png"), tmp_path)
    t, h, w = inputs["image_grid_thw"][0].tolist()
    assert t == 1
    budget = tiny_bundle.processor.image_processor.size["longest_edge"]
    if max(size) / min(size) > 100:
        # The short side can't shrink below one merged patch (28 px), so the ratio stays extreme (not squashed).
        assert min(h, w) == 2 and max(h, w) / min(h, w) >= 50
        assert h * w * 14 * 14 <= 2 * budget
    else:
        assert h * w * 14 * 14 <= budget  # resized into the tiny preset's pixel budget
        assert abs((w / h) - 4096 / 2160) < 0.2  # aspect ratio kept
    logits = _forward(tiny_bundle, inputs)
    assert logits.shape[1] == inputs["input_ids"].shape[1]
    assert torch.isfinite(logits).all()


def test_aspect_ratio_over_200_is_a_clear_error(tiny_bundle, tmp_path):
    Image.new("RGB", (28 * 201, 28), "blue").save(tmp_path / "img.png")
    with pytest.raises(ValueError, match="aspect ratio 201:1"):
        encode_prompt(tiny_bundle.processor, _image_prompt("img.png"), tmp_path)


def _bicubic_reference(table: np.ndarray, x: float, y: float) -> np.ndarray:
    """Bicubic convolution (a = -0.75, edge pixels repeated) of an S×S×D table at pixel coords (x, y)."""

    def kernel(d: float) -> float:
        a, d = -0.75, abs(d)
        if d <= 1:
            return (a + 2) * d**3 - (a + 3) * d**2 + 1
        if d < 2:
            return a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a
        return 0.0

    size = table.shape[0]
    x0, y0 = int(np.floor(x)), int(np.floor(y))
    out = np.zeros(table.shape[2])
    for j in range(y0 - 1, y0 + 3):
        for i in range(x0 - 1, x0 + 3):
            weight = kernel(x - i) * kernel(y - j)
            out += weight * table[min(max(j, 0), size - 1), min(max(i, 0), size - 1)]
    return out


def test_position_embedding_interpolation_follows_the_seed_formula(tiny_bundle, tmp_path):
    Image.new("RGB", (168, 56), "green").save(tmp_path / "img.png")  # 12 × 4 patches of 14 px
    inputs = encode_prompt(tiny_bundle.processor, _image_prompt("img.png"), tmp_path)
    _, H, W = inputs["image_grid_thw"][0].tolist()
    assert (H, W) == (4, 12)
    embeddings = tiny_bundle.model.model.visual.embeddings
    captured = {}
    hook = embeddings.register_forward_hook(lambda m, args, out: captured.update(added=out - args[0]))
    try:
        _forward(tiny_bundle, inputs)
    finally:
        hook.remove()
    added = captured["added"].double().numpy()  # [H*W, D]: the position embedding each patch received

    weight = embeddings.position_embedding.weight.detach().double().numpy()
    side = int(round(len(weight) ** 0.5))
    table = weight.reshape(side, side, -1)
    # The processor emits patches in 2×2 merge blocks, row-major over blocks.
    order = [
        (bh * 2 + ih, bw * 2 + iw) for bh in range(H // 2) for bw in range(W // 2) for ih in (0, 1) for iw in (0, 1)
    ]
    for k, (h, w) in enumerate(order):
        w_norm, h_norm = 2 * (w + 0.5) / W - 1, 2 * (h + 0.5) / H - 1  # g_norm of the seed
        # grid_sample with align_corners=False maps [-1, 1] onto the table's outer pixel edges.
        x, y = ((w_norm + 1) * side - 1) / 2, ((h_norm + 1) * side - 1) / 2
        np.testing.assert_allclose(added[k], _bicubic_reference(table, x, y), atol=1e-5)


def test_video_frames_halved_and_each_step_carries_its_time_index(tiny_bundle, image_dir):
    frames = [f"frame{i}.png" for i in range(8)]
    messages = [
        {"role": "user", "content": [{"type": "video", "video": frames, "fps": 1.0}, {"type": "text", "text": "?"}]}
    ]
    inputs = encode_prompt(tiny_bundle.processor, messages, image_dir)
    t, h, w = inputs["video_grid_thw"][0].tolist()
    assert t == 4  # 8 frames, temporal patch 2 in the 3D conv
    text = tiny_bundle.tokenizer.decode(inputs["input_ids"][0])
    # At 1 fps the steps start at 0, 2, 4 and 6 seconds: the true times, not frame counters.
    for seconds in (0, 2, 4, 6):
        assert f"<|end_of_image|>{seconds}" in text
    assert text.count("<|begin_of_image|>") == 4
    logits = _forward(tiny_bundle, inputs)
    assert torch.isfinite(logits).all()


def test_text_image_and_video_tokens_get_3d_positions(tiny_bundle, image_dir):
    frames = [f"frame{i}.png" for i in range(4)]
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Look:"},
                {"type": "image", "image": "red.png"},
                {"type": "video", "video": frames, "fps": 2.0},
                {"type": "text", "text": "Done?"},
            ],
        }
    ]
    inputs = encode_prompt(tiny_bundle.processor, messages, image_dir)
    positions, _ = tiny_bundle.model.model.get_rope_index(
        inputs["input_ids"],
        inputs["mm_token_type_ids"],
        inputs["image_grid_thw"],
        inputs["video_grid_thw"],
    )
    assert positions.shape == (3, 1, inputs["input_ids"].shape[1])
    types = inputs["mm_token_type_ids"][0]
    pos = positions[:, 0]
    text_pos = pos[:, types == 0]
    assert torch.equal(text_pos[0], text_pos[1]) and torch.equal(text_pos[1], text_pos[2])
    image_pos = pos[:, types == 1]
    _, ih, iw = (inputs["image_grid_thw"][0] // torch.tensor([1, 2, 2])).tolist()
    assert len(set(image_pos[0].tolist())) == 1  # one time step
    assert len(set(image_pos[1].tolist())) == ih and len(set(image_pos[2].tolist())) == iw
    video_pos = pos[:, types == 2]
    assert len(video_pos[0].unique()) >= 1 and len(video_pos[1].unique()) > 1
    # Positions never go backwards between modality blocks.
    assert (pos[0][1:] >= pos[0][:-1]).sum() > 0 and pos.max() < inputs["input_ids"].shape[1]

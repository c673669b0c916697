"""Image-text relevance: keep a pair only when CLIP embeds image and caption close together.

The report keeps web pairs whose CLIP score passes a threshold. We load any transformers CLIP checkpoint from a
local directory (``CLIPModel`` + its tokenizer + its image processor) and drop pairs whose cosine similarity is
below ``threshold``. Records whose image or text can't be read were usually dropped earlier; here they get a
reason too, never an exception.
"""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image

from thinkvl.data.pipeline.base import Filter, Reason, Sample
from thinkvl.data.pipeline.config import RelevanceConfig


def _features(output: object) -> torch.Tensor:
    # transformers 5 returns a model output whose pooler_output is the projected embedding; 4.x a tensor.
    return output if isinstance(output, torch.Tensor) else output.pooler_output  # type: ignore[attr-defined]


class ClipScorer:
    """Cosine similarity of CLIP image and text embeddings, batched; loads from a local directory only."""

    def __init__(self, model_dir: str | Path, device: str = "cpu"):
        from transformers import AutoImageProcessor, AutoTokenizer, CLIPModel

        model_dir = Path(model_dir)
        if not (model_dir / "config.json").is_file():
            raise FileNotFoundError(f"no CLIP checkpoint in {model_dir} (config.json missing)")
        self.device = torch.device(device)
        self.model = CLIPModel.from_pretrained(model_dir, local_files_only=True).to(self.device).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        self.image_processor = AutoImageProcessor.from_pretrained(model_dir, local_files_only=True)
        self.max_length = self.model.config.text_config.max_position_embeddings

    @torch.inference_mode()
    def scores(self, images: list[Image.Image], texts: list[str]) -> list[float]:
        """Cosine similarity of each (image, text) pair, in [-1, 1]."""
        if len(images) != len(texts):
            raise ValueError(f"{len(images)} images but {len(texts)} texts")
        if not images:
            return []
        tok = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        pix = self.image_processor(images=images, return_tensors="pt")["pixel_values"]
        text_emb = _features(
            self.model.get_text_features(
                input_ids=tok["input_ids"].to(self.device), attention_mask=tok["attention_mask"].to(self.device)
            )
        )
        image_emb = _features(self.model.get_image_features(pixel_values=pix.to(self.device)))
        text_emb = torch.nn.functional.normalize(text_emb.float(), dim=-1)
        image_emb = torch.nn.functional.normalize(image_emb.float(), dim=-1)
        return (text_emb * image_emb).sum(-1).cpu().tolist()

    @torch.inference_mode()
    def image_embeddings(self, images: list[Image.Image]) -> torch.Tensor:
        """Unit-length projected image embeddings [n, d] (what `scores` compares with text; Design2Code's CLIP)."""
        pix = self.image_processor(images=images, return_tensors="pt")["pixel_values"]
        emb = _features(self.model.get_image_features(pixel_values=pix.to(self.device)))
        return torch.nn.functional.normalize(emb.float(), dim=-1).cpu()

    @torch.inference_mode()
    def image_token_means(self, images: list[Image.Image]) -> torch.Tensor:
        """The vision tower's last hidden state averaged over its tokens [n, hidden] (Flame's image embedding)."""
        pix = self.image_processor(images=images, return_tensors="pt")["pixel_values"]
        hidden = self.model.vision_model(pixel_values=pix.to(self.device)).last_hidden_state
        return hidden.float().mean(dim=1).cpu()


class RelevanceFilter(Filter):
    name = "relevance"

    def __init__(self, cfg: RelevanceConfig):
        self.cfg = cfg
        self.scorer: ClipScorer | None = None

    def setup(self) -> None:
        if self.scorer is None:
            self.scorer = ClipScorer(self.cfg.model, self.cfg.device)

    def check(self, samples: list[Sample]) -> list[Reason]:
        self.setup()
        assert self.scorer is not None
        out: list[Reason] = [None] * len(samples)
        ready: list[tuple[int, Image.Image, str]] = []
        for i, sample in enumerate(samples):
            try:
                ready.append((i, sample.image(), sample.text()))
            except ValueError as err:
                out[i] = str(err)
        try:
            sims = self.scorer.scores([b[1] for b in ready], [b[2] for b in ready])
        except Exception:  # one bad pair (e.g. an image the processor rejects) must not stop the run
            sims = self._one_by_one(ready)
        for (i, _, _), sim in zip(ready, sims, strict=True):
            if isinstance(sim, str):
                out[i] = sim
            elif sim < self.cfg.threshold:
                out[i] = f"low_clip_score: {sim:.3f} < {self.cfg.threshold:g}"
            elif self.cfg.write_score:
                samples[i].record.meta["clip_score"] = round(sim, 4)
        return out

    def _one_by_one(self, batch: list[tuple[int, Image.Image, str]]) -> list[float | str]:
        assert self.scorer is not None
        sims: list[float | str] = []
        for _, img, text in batch:
            try:
                sims.append(self.scorer.scores([img], [text])[0])
            except Exception as one_err:
                sims.append(f"clip_error: {type(one_err).__name__}: {one_err}"[:300])
        return sims

"""The built-in domain verifiers; importing this package registers them."""

from thinkvl.reward.verifiers import chart, choice, counting, grounding, gui, math, ocr, video, vqa

__all__ = ["chart", "choice", "counting", "grounding", "gui", "math", "ocr", "video", "vqa"]

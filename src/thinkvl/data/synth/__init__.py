"""Built-in synthetic visual tasks: deterministic by seed, several difficulty levels, verifiable answers.

Each domain (counting, chart, ocr, grounding, math, choice, video) is one module with a generator per level;
`registry` maps domains to them and turns samples into records, `writer` writes a dataset, `show` summarises one.
Every record's meta carries a caption (pre-training), a reasoning trace and answer sentence (SFT, see
`thinkvl.train.samples.sft_target`), and "boxed", the answer as it appears between the box tokens.
"""

from thinkvl.data.synth.base import Sample, TaskContext, box_string
from thinkvl.data.synth.registry import FAMILIES, TaskFamily, family, generate, record_id, to_record
from thinkvl.data.synth.writer import plan, write_dataset

__all__ = [
    "FAMILIES",
    "Sample",
    "TaskContext",
    "TaskFamily",
    "box_string",
    "family",
    "generate",
    "plan",
    "record_id",
    "to_record",
    "write_dataset",
]

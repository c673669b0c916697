"""Pre-training data pipeline: a chain of filters (image quality, text quality, CLIP relevance, de-duplication)
run streaming on one machine or on Ray Data, and VLM recaptioning.

Entry points: `run_filter_pipeline` (local processes), `run_filter_pipeline_ray` (Ray Data), `recaption`;
on the command line, ``thinkvl data filter CONFIG`` and ``thinkvl data recaption``.
"""

from thinkvl.data.pipeline.config import (
    ConfigError,
    DedupConfig,
    FilterPipelineConfig,
    ImageQualityConfig,
    RelevanceConfig,
    TextQualityConfig,
    load_pipeline_config,
)
from thinkvl.data.pipeline.ray_runner import run_filter_pipeline_ray
from thinkvl.data.pipeline.recaption import RecaptionConfig, recaption
from thinkvl.data.pipeline.runner import run_filter_pipeline

__all__ = [
    "ConfigError",
    "DedupConfig",
    "FilterPipelineConfig",
    "ImageQualityConfig",
    "RecaptionConfig",
    "RelevanceConfig",
    "TextQualityConfig",
    "load_pipeline_config",
    "recaption",
    "run_filter_pipeline",
    "run_filter_pipeline_ray",
]

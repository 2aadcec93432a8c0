"""configs/data/curate.yaml's `quality:` section is exactly QualityConfig's fields and defaults."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from textbooks.data.quality.config import QualityConfig

CURATE_YAML = Path(__file__).resolve().parents[3] / "configs" / "data" / "curate.yaml"


def test_shipped_quality_section_lists_every_setting_with_the_defaults():
    section = yaml.safe_load(CURATE_YAML.read_text())["quality"]
    assert list(section) == [f.name for f in dataclasses.fields(QualityConfig)]  # every key, in the dataclass order
    assert QualityConfig(**section) == QualityConfig()


@pytest.mark.parametrize("field, value, message", [
    ("classifier", "svm", "choose rf or logreg"),
    ("threshold", 6, "a score 0..5"),
    ("keep_probability", 1.0, "in \\(0, 1\\)"),
    ("annotator", "gpt-4", "'offline' or an http"),
    ("batch_size", 0, "must be >= 1"),
])
def test_bad_values_are_refused_with_the_key(field, value, message):
    with pytest.raises(ValueError, match=f"quality.{field}: {message}" if field != "batch_size" else message):
        QualityConfig(**{field: value})

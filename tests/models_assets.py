"""Shared helpers of tests/test_models_*.py: the shipped models and their committed files.

Tests read the committed files only (no torch, no retraining) through the numpy-only helpers of
`models` (dataset split and normalization, DCGAN sampling, the build list).
"""

from __future__ import annotations

import json

import numpy as np

from models import dataset
from models.build import BUILDS, EVALUATORS, MODELS, Build

CLASSIFIERS = {spec.stem: spec for spec in BUILDS if spec.name not in EVALUATORS}  # the rest are generators
GENERATOR = next(spec for spec in BUILDS if spec.name == "dcgan")


def held_out_inputs(spec: Build) -> tuple[np.ndarray, np.ndarray]:
    """(float inputs in the model's layout, labels) of the committed held-out test set."""
    images, labels = dataset.load_test_set()
    return dataset.normalize(images).reshape(len(images), *spec.layout), labels


def metrics(name: str) -> dict:
    """The recorded models/<name>/metrics.json."""
    return json.loads((MODELS / name / "metrics.json").read_text())


def png_tiles(path: str) -> np.ndarray:
    """A committed 2x-upscaled sample grid PNG back at 1x (uint8)."""
    from PIL import Image

    return np.asarray(Image.open(MODELS / path))[::2, ::2]

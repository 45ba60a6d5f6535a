"""Paths and loaders of the shipped models' committed files, shared by the tests/test_models_*.py files.

Tests read the committed files only: no torch, no retraining. Normalization is the documented one
(docs/models.md): float input = pixel / 255.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort

MODELS = Path(__file__).resolve().parent.parent / "models"
DATA = MODELS / "data"
CLASSIFIERS = {  # ONNX file -> (metrics.json, float input layout of one image)
    "mnist_mlp/mnist_mlp.onnx": ("mnist_mlp", (784,)),
    "mnist_mlp/mnist_mlp_dynamo.onnx": ("mnist_mlp", (784,)),
    "mnist_cnn/mnist_cnn.onnx": ("mnist_cnn", (1, 28, 28)),
}


def held_out_test_set() -> tuple[np.ndarray, np.ndarray]:
    """The committed held-out test set: images uint8 (1000, 28, 28), labels uint8 (1000,)."""
    return np.load(DATA / "mnist_test_images.npy"), np.load(DATA / "mnist_test_labels.npy")


def normalized(images: np.ndarray, layout: tuple[int, ...]) -> np.ndarray:
    """uint8 images -> float32 pixel / 255 in the model's input layout (batch first)."""
    return (images.astype(np.float32) / np.float32(255)).reshape(len(images), *layout)


def metrics(name: str) -> dict:
    """The model's recorded models/<name>/metrics.json."""
    return json.loads((MODELS / name / "metrics.json").read_text())


def onnxruntime_run(path: Path, x: np.ndarray) -> np.ndarray:
    """First output of the ONNX model at `path` on `x` (onnxruntime, CPU)."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]

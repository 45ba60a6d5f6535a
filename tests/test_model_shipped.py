"""The shipped ONNX models convert, and the int8 engine keeps their accuracy on the committed test set."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from evm_ext.model import Model
from evm_ext.model.convert import convert

ROOT = Path(__file__).resolve().parents[1]
ONNX = {
    "mnist_mlp": ROOT / "models/mnist_mlp/mnist_mlp.onnx",
    "mnist_mlp_dynamo": ROOT / "models/mnist_mlp/mnist_mlp_dynamo.onnx",
    "mnist_cnn": ROOT / "models/mnist_cnn/mnist_cnn.onnx",
    "dcgan": ROOT / "models/dcgan/dcgan_generator.onnx",
}


@cache
def converted(name: str) -> Model:
    calib = np.load(ONNX[name].parent / "calibration.npy")
    return convert(ONNX[name], calib)


@pytest.mark.parametrize("name", ONNX)
def test_fresh_conversion_reproduces_the_committed_aiem_bytes(name):
    assert converted(name).encode() == ONNX[name].with_suffix(".aiem").read_bytes()


def _mnist_test(shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    images = np.load(ROOT / "models/data/mnist_test_images.npy").astype(np.float32) / 255.0
    labels = np.load(ROOT / "models/data/mnist_test_labels.npy")
    return images.reshape((len(images), *shape)), labels


@pytest.mark.parametrize(
    "name,float_accuracy", [("mnist_mlp", 0.936), ("mnist_mlp_dynamo", 0.936), ("mnist_cnn", 0.977)]
)
def test_mnist_accuracy_kept(name, float_accuracy):
    model = converted(name)
    x, labels = _mnist_test(model.input_shape)
    pred = model.run(model.quantize_input(x)).argmax(axis=1)
    accuracy = float(np.mean(pred == labels))
    assert accuracy >= float_accuracy - 0.01, accuracy
    session = ort.InferenceSession(str(ONNX[name]), providers=["CPUExecutionProvider"])
    float_pred = session.run(None, {session.get_inputs()[0].name: x})[0].argmax(axis=1)
    assert np.mean(pred == float_pred) >= 0.98


def test_legacy_and_dynamo_exports_convert_to_the_same_graph():
    a, b = converted("mnist_mlp"), converted("mnist_mlp_dynamo")
    assert [c for c in a.op_costs()] == [c for c in b.op_costs()]
    assert all(np.array_equal(p.weight, q.weight) for p, q in zip(a.ops, b.ops, strict=True))
    assert a.op_costs()[0].macs == 784 * 64


def test_dcgan_generator_close_to_float():
    model = converted("dcgan")
    calib = np.load(ONNX["dcgan"].parent / "calibration.npy")[:16]
    session = ort.InferenceSession(str(ONNX["dcgan"]), providers=["CPUExecutionProvider"])
    want = session.run(None, {session.get_inputs()[0].name: calib})[0]
    got = model.dequantize_output(model.run(model.quantize_input(calib)))
    assert got.shape == want.shape
    assert float(np.abs(got - want).mean()) < 0.05  # tanh output in [-1, 1]
    assert [op.kind.name.lower() for op in model.ops] == ["conv_transpose"] * 3 + ["lookup"]

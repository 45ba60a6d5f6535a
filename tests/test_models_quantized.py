"""The committed .aiem models on the real converter and integer engine: int8 accuracy within 1 point of
float, exact (machine-independent) int8 results, and the on-chain input encoding of an MNIST image."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from evm_ext.model import load_model
from evm_ext.model.convert import convert
from tests.models_assets import (
    CLASSIFIERS,
    MODELS,
    held_out_test_set,
    metrics,
    normalized,
    onnxruntime_run,
)

# int8 engine accuracy on the 1,000 held-out images: integer arithmetic, so exact on every machine.
EXPECTED_INT8_ACCURACY = {
    "mnist_mlp/mnist_mlp.onnx": 0.937,
    "mnist_mlp/mnist_mlp_dynamo.onnx": 0.937,
    "mnist_cnn/mnist_cnn.onnx": 0.977,
}


def _aiem(relpath: str) -> str:
    return str(MODELS / relpath.replace(".onnx", ".aiem"))


@pytest.mark.parametrize("relpath", sorted(CLASSIFIERS))
def test_committed_aiem_accuracy_within_one_point_of_float(relpath: str) -> None:
    name, layout = CLASSIFIERS[relpath]
    model = load_model(_aiem(relpath))
    images, labels = held_out_test_set()
    x = normalized(images, layout)
    int8_pred = model.run(model.quantize_input(x)).argmax(1)
    float_pred = onnxruntime_run(MODELS / relpath, x).argmax(1)
    int8_acc, float_acc = float((int8_pred == labels).mean()), float((float_pred == labels).mean())
    assert int8_acc == EXPECTED_INT8_ACCURACY[relpath]
    assert abs(int8_acc - float_acc) <= 0.01
    assert (int8_pred == float_pred).mean() >= 0.99
    recorded = metrics(name)["quantized"][relpath.split("/")[1].removesuffix(".onnx")]
    assert recorded["int8_test_accuracy"] == int8_acc
    assert recorded["hash"] == "0x" + model.hash.hex()


@pytest.mark.parametrize("relpath", sorted(CLASSIFIERS))
def test_mnist_input_byte_is_pixel_minus_128(relpath: str) -> None:
    """Input scale 1/255, zero point -128: the INFER input of an image is its pixels XOR 0x80."""
    _, layout = CLASSIFIERS[relpath]
    model = load_model(_aiem(relpath))
    images, labels = held_out_test_set()
    assert (model.source.scale, model.source.zero_point) == (1 / 255, -128)
    q = model.quantize_input(normalized(images, layout))
    assert np.array_equal(q.reshape(len(images), -1), (images.reshape(len(images), -1) ^ 0x80).view(np.int8))
    out = model.run_bytes((images[0] ^ 0x80).tobytes())
    assert len(out) == model.output_size == 10
    assert int(np.frombuffer(out, np.int8).argmax()) == labels[0]


def test_mlp_exports_agree_after_quantization() -> None:
    """The Gemm graph and the dynamo MatMul+Add graph of the same weights predict the same labels."""
    images, _ = held_out_test_set()
    preds = []
    for stem in ("mnist_mlp", "mnist_mlp_dynamo"):
        model = load_model(MODELS / "mnist_mlp" / f"{stem}.aiem")
        preds.append(model.run((images.reshape(-1, 784) ^ 0x80).view(np.int8)).argmax(1))
    assert np.array_equal(preds[0], preds[1])


@pytest.mark.parametrize("relpath", ["mnist_mlp/mnist_mlp_dynamo.onnx", "mnist_cnn/mnist_cnn.onnx"])
def test_fresh_conversion_matches_float_accuracy(relpath: str) -> None:
    """The real converter, run now on the committed ONNX + calibration data, stays within 1 point."""
    name, layout = CLASSIFIERS[relpath]
    model = convert(MODELS / relpath, np.load(MODELS / name / "calibration.npy"))
    images, labels = held_out_test_set()
    accuracy = float((model.run(model.quantize_input(normalized(images, layout))).argmax(1) == labels).mean())
    assert abs(accuracy - metrics(name)["float"]["torch_test_accuracy"]) <= 0.01


def test_dcgan_int8_redraws_committed_grid_and_tracks_float() -> None:
    model = load_model(MODELS / "dcgan/dcgan_generator.aiem")
    assert model.input_size == 16 and model.output_size == 28 * 28
    latents = np.random.default_rng(4).standard_normal((64, 16, 1, 1)).astype(np.float32)
    images = model.dequantize_output(model.run(model.quantize_input(latents)))
    pixels = np.clip(np.round((images[:, 0] + 1) * 127.5), 0, 255).astype(np.uint8)
    tiles = np.pad(pixels, ((0, 0), (1, 1), (1, 1))).reshape(8, 8, 30, 30).transpose(0, 2, 1, 3)
    grid = np.asarray(Image.open(MODELS / "dcgan/samples_int8.png"))[::2, ::2]
    assert np.array_equal(grid, tiles.reshape(240, 240))
    float_images = onnxruntime_run(MODELS / "dcgan/dcgan_generator.onnx", latents)
    error = np.abs(pixels - np.clip(np.round((float_images[:, 0] + 1) * 127.5), 0, 255))
    assert error.mean() < 1.0
    assert metrics("dcgan")["quantized"]["dcgan_generator"]["hash"] == "0x" + model.hash.hex()

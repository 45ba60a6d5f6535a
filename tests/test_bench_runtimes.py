"""The comparison runtimes are faithful: numpy float32 equals onnxruntime, the int8 .tflite agrees with the
engine, and the result plumbing (statistics, targets) computes what it says."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from benchmarks.engine_compare import SHIPPED, float_inputs
from benchmarks.float_numpy import UnsupportedOnnxError, load_float_model
from benchmarks.litert_runner import TFLITE_FILES, LiteRTModel
from benchmarks.run import check_targets
from benchmarks.stats import summarize
from evm_ext.model import load_model


@pytest.mark.parametrize("shipped", SHIPPED, ids=lambda s: s.name)
def test_numpy_float32_runner_matches_onnxruntime(shipped):
    x = float_inputs(shipped, load_model(shipped.aiem), 20)
    session = ort.InferenceSession(str(shipped.onnx), providers=["CPUExecutionProvider"])
    expected = session.run(None, {session.get_inputs()[0].name: x})[0]
    got = load_float_model(shipped.onnx).run(x)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() < 1e-4


def test_unsupported_onnx_op_is_named(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Erf", ["x"], ["y"], name="erf0")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    onnx.save(helper.make_model(graph), tmp_path / "erf.onnx")
    with pytest.raises(UnsupportedOnnxError, match="Erf"):
        load_float_model(tmp_path / "erf.onnx")


@pytest.mark.parametrize("name", ["mnist_mlp", "mnist_cnn"])
def test_tflite_int8_agrees_with_the_engine_on_the_test_set(name):
    shipped = next(s for s in SHIPPED if s.name == name)
    model = load_model(shipped.aiem)
    x = float_inputs(shipped, model, 300)
    labels = np.load(shipped.inputs.parent / "mnist_test_labels.npy")[:300]
    lite = LiteRTModel(TFLITE_FILES[name], num_threads=1)
    lite_top = np.array([np.argmax(lite.invoke(q)) for q in lite.quantize(x)])
    engine_top = (
        model.run(
            np.stack([np.frombuffer(model.encode_input(xi[None]), np.int8) for xi in x]).reshape(
                len(x), *model.input_shape
            )
        )
        .reshape(len(x), -1)
        .argmax(axis=1)
    )
    assert np.mean(lite_top == engine_top) >= 0.97
    assert np.mean(lite_top == labels) >= 0.9


def test_summarize_median_p95_mean():
    t = summarize([4.0, 1.0, 3.0, 2.0])
    assert (t.median, t.mean, t.n) == (2.5, 2.5, 4)
    assert t.p95 == pytest.approx(3.85)


def test_check_targets_reports_met_unmet_and_missing():
    targets = check_targets({"rpc": {"tiny_call_ms": {"median": 1.2}, "transfers_per_s": 100.0}})
    assert targets["tiny_call_median_ms"] == {"value": 1.2, "target": "<= 1.5", "met": True}
    assert targets["transfers_per_s"]["met"] is False
    assert targets["cnn_engine_vs_tflite_int8"] == {"value": None, "target": "<= 1.5", "met": None}

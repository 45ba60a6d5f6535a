"""Stage 1 (evm_ext.model.convert.graph): each rewrite removes what it says and keeps the graph's function
(onnxruntime gives the same outputs before and after)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from evm_ext.model import ConversionError
from evm_ext.model.convert import graph
from tests.engine_onnx import onnx_model, ort_run, rand

RNG = np.random.default_rng(7)
node = helper.make_node


def _normalised(model: onnx.ModelProto, shape: tuple[int, ...]) -> list[str]:
    """Op types after normalisation; asserts the outputs did not change."""
    x = RNG.normal(size=(5, *shape)).astype(np.float32)
    before = ort_run(model, x)
    after_model = graph.normalise(graph.load(model))
    np.testing.assert_allclose(ort_run(after_model, x), before, rtol=1e-5, atol=1e-5)
    return [n.op_type for n in after_model.graph.node]


def test_aliases_go_and_the_output_keeps_its_name():
    m = onnx_model(
        [
            node("Identity", ["x"], ["i"]),
            node("Cast", ["i"], ["c"], to=TensorProto.FLOAT),
            node("Relu", ["c"], ["r"]),
            node("Dropout", ["r"], ["y"]),
        ],
        {},
        (4,),
    )
    assert _normalised(m, (4,)) == ["Relu"]


def test_cast_of_a_shape_tensor_stays():
    """A Cast that is not on an activation feeds shape arithmetic: it is computed, not removed."""
    m = onnx_model(
        [
            node("Shape", ["x"], ["s"]),
            node("Cast", ["s"], ["sf"], to=TensorProto.FLOAT),
            node("Cast", ["sf"], ["si"], to=TensorProto.INT64),
            node("Reshape", ["x", "si"], ["y"]),
        ],
        {},
        (2, 3),
    )
    assert _normalised(m, (2, 3)) == ["Shape", "Cast", "Cast", "Reshape"]


def test_inverse_transposes_cancel_across_relu_and_a_per_channel_add():
    m = onnx_model(
        [
            node("Transpose", ["x"], ["a"], perm=[0, 2, 3, 1]),
            node("Add", ["a", "b"], ["ab"]),
            node("Relu", ["ab"], ["r"]),
            node("Transpose", ["r"], ["y"], perm=[0, 3, 1, 2]),
        ],
        {"b": rand(RNG, 3)},
        (3, 4, 5),
    )
    assert _normalised(m, (3, 4, 5)) == ["Add", "Relu"]


def test_non_inverse_transposes_stay():
    m = onnx_model(
        [
            node("Transpose", ["x"], ["a"], perm=[0, 2, 3, 1]),
            node("Transpose", ["a"], ["y"], perm=[0, 2, 3, 1]),
        ],
        {},
        (3, 4, 5),
    )
    assert _normalised(m, (3, 4, 5)) == ["Transpose", "Transpose"]


def test_transpose_into_reduce_mean_permutes_its_axes():
    m = onnx_model(
        [
            node("Transpose", ["x"], ["a"], perm=[0, 2, 3, 1]),
            node("Relu", ["a"], ["r"]),
            node("ReduceMean", ["r"], ["y"], axes=[1, 2], keepdims=0),
        ],
        {},
        (3, 4, 5),
    )
    assert _normalised(m, (3, 4, 5)) == ["Relu", "ReduceMean"]


def test_transpose_then_gemm_trans_a_becomes_plain_gemm():
    m = onnx_model(
        [node("Transpose", ["x"], ["t"], perm=[1, 0]), node("Gemm", ["t", "w"], ["y"], transA=1)],
        {"w": rand(RNG, 6, 2)},
        (6,),
    )
    assert _normalised(m, (6,)) == ["Gemm"]


def test_load_refuses_two_outputs_and_unreadable_files(tmp_path):
    m = onnx_model([node("Relu", ["x"], ["y"])], {}, (2,))
    m.graph.output.append(onnx.ValueInfoProto(name="x"))
    with pytest.raises(ConversionError, match="exactly one output, it has 2"):
        graph.load(m)
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ConversionError, match="cannot read ONNX model"):
        graph.load(bad)


def test_transpose_into_a_mean_that_would_reorder_the_kept_axes_stays():
    """Mean over W of NHWC keeps (N, H, C); over W of NCHW it would keep (N, C, H): not the same tensor."""
    m = onnx_model(
        [
            node("Transpose", ["x"], ["a"], perm=[0, 2, 3, 1]),
            node("ReduceMean", ["a"], ["y"], axes=[2], keepdims=0),
        ],
        {},
        (3, 4, 5),
    )
    assert _normalised(m, (3, 4, 5)) == ["Transpose", "ReduceMean"]


def test_transposes_cancel_across_a_constant_minus_the_activation():
    m = onnx_model(
        [
            node("Transpose", ["x"], ["a"], perm=[0, 2, 3, 1]),
            node("Sub", ["c", "a"], ["s"]),
            node("Transpose", ["s"], ["y"], perm=[0, 3, 1, 2]),
        ],
        {"c": rand(RNG, 5, 3)},
        (3, 4, 5),
    )
    assert _normalised(m, (3, 4, 5)) == ["Sub"]

"""Stage 3 (evm_ext.model.convert.lower): which IR ops a graph lowers to, with what folded into them."""

from __future__ import annotations

import math

import numpy as np
import pytest
from onnx import helper

from evm_ext.model import ConversionError
from evm_ext.model.convert import graph
from evm_ext.model.convert.calibrate import Calibration
from evm_ext.model.convert.ir import IrKind
from evm_ext.model.convert.lower import HANDLERS, Lowering
from evm_ext.model.convert.support import unsupported
from tests.engine_onnx import onnx_model, rand

RNG = np.random.default_rng(9)
node = helper.make_node


def _lower(nodes, inits, shape, opset=17):
    model = graph.normalise(graph.load(onnx_model(nodes, inits, shape, opset=opset)))
    cal = Calibration(model, RNG.normal(size=(16, *shape)).astype(np.float32), batch=256)
    return Lowering(model, cal).run()


def test_conv_bias_batchnorm_relu6_fold_into_one_conv():
    w, b = rand(RNG, 3, 2, 3, 3), rand(RNG, 3)
    g, be, mu, var = rand(RNG, 3) + 1, rand(RNG, 3), rand(RNG, 3), np.abs(rand(RNG, 3)) + 0.5
    ir = _lower(
        [
            node("Conv", ["x", "w"], ["c"]),
            node("Add", ["c", "b"], ["cb"]),
            node("BatchNormalization", ["cb", "g", "be", "mu", "var"], ["bn"]),
            node("Clip", ["bn", "lo", "hi"], ["y"]),
        ],
        {
            "w": w,
            "b": b.reshape(3, 1, 1),
            "g": g,
            "be": be,
            "mu": mu,
            "var": var,
            "lo": np.float32(0),
            "hi": np.float32(6),
        },
        (2, 5, 5),
    )
    assert [op.kind for op in ir] == [IrKind.CONV]
    k = g.astype(np.float64) / np.sqrt(var.astype(np.float64) + 1e-5)
    np.testing.assert_allclose(ir[0].weight, w * k.reshape(-1, 1, 1, 1), rtol=1e-6)
    np.testing.assert_allclose(ir[0].bias, (b - mu) * k + be, rtol=1e-5, atol=1e-6)
    assert ir[0].act == (0.0, 6.0) and ir[0].output == "y"


def test_a_linear_output_read_twice_is_not_fused():
    ir = _lower(
        [
            node("Gemm", ["x", "w"], ["g"], transB=1),
            node("Relu", ["g"], ["r"]),
            node("Add", ["r", "g"], ["y"]),
        ],
        {"w": rand(RNG, 4, 4)},
        (4,),
    )
    assert [op.kind for op in ir] == [IrKind.FULLY_CONNECTED, IrKind.LOOKUP, IrKind.ADD]
    assert ir[0].act is None


def test_resize_is_a_depthwise_transposed_conv_of_ones():
    ir = _lower(
        [node("Resize", ["x", "", "sc"], ["y"], mode="nearest")],
        {"sc": np.array([1, 1, 2, 3], np.float32)},
        (3, 2, 2),
    )
    (op,) = ir
    assert op.kind == IrKind.CONV_TRANSPOSE and op.attrs["group"] == 3 and op.attrs["strides"] == (2, 3)
    np.testing.assert_array_equal(op.weight, np.ones((3, 1, 2, 3)))
    np.testing.assert_array_equal(op.bias, np.zeros(3))


def test_standalone_pad_is_a_depthwise_1x1_conv_with_the_pads():
    ir = _lower(
        [node("Pad", ["x", "p"], ["p0"]), node("MaxPool", ["p0"], ["y"], kernel_shape=[2, 2])],
        {"p": np.array([0, 0, 1, 2, 0, 0, 3, 0], np.int64)},
        (2, 4, 4),
    )
    assert [op.kind for op in ir] == [IrKind.CONV, IrKind.MAX_POOL]
    assert ir[0].attrs["pads"] == (1, 2, 3, 0) and ir[0].weight.shape == (2, 1, 1, 1)


def test_standalone_batchnorm_of_a_vector_is_a_diagonal_fully_connected_layer():
    g, be, mu, var = rand(RNG, 4) + 1, rand(RNG, 4), rand(RNG, 4), np.abs(rand(RNG, 4)) + 0.5
    ir = _lower(
        [node("Relu", ["x"], ["r"]), node("BatchNormalization", ["r", "g", "be", "mu", "var"], ["y"])],
        {"g": g, "be": be, "mu": mu, "var": var},
        (4,),
    )
    assert [op.kind for op in ir] == [IrKind.LOOKUP, IrKind.FULLY_CONNECTED]
    k = g.astype(np.float64) / np.sqrt(var.astype(np.float64) + 1e-5)
    np.testing.assert_allclose(ir[1].weight, np.diag(k), rtol=1e-6)


def test_every_handler_is_registered_once_per_op_type():
    for op_type in (
        "Cast",
        "Pad",
        "Resize",
        "Upsample",
        "ReduceMean",
        "HardSwish",
        "HardSigmoid",
        "Sigmoid",
        "Clip",
    ):
        assert op_type in HANDLERS
    assert HANDLERS["Relu"] is Lowering.activation and HANDLERS["Div"] is Lowering.binary


@pytest.mark.parametrize(
    "op_type,alternative",
    [
        ("InstanceNormalization", "BatchNormalization"),
        ("ConvInteger", "Conv (export the float model)"),
        ("Relu6", "Relu"),
    ],
)
def test_unsupported_names_the_nearest_alternative(op_type, alternative):
    error = unsupported(node(op_type, ["x"], ["y"], name="n1"), HANDLERS)
    assert isinstance(error, ConversionError)
    assert f"{op_type} node 'n1'" in str(error) and f"nearest supported: {alternative}" in str(error)


def test_opset_11_softmax_of_a_map_flattens_the_axes_it_normalises():
    ir = _lower([node("Softmax", ["x"], ["y"], axis=2)], {}, (2, 3, 4), opset=11)
    assert [op.kind for op in ir] == [IrKind.RESHAPE, IrKind.SOFTMAX, IrKind.RESHAPE]
    assert ir[0].attrs["shape"] == (2, 12) and ir[1].attrs["axis"] == 1 and ir[2].attrs["shape"] == (2, 3, 4)
    assert math.prod(ir[0].attrs["shape"]) == 24


@pytest.mark.parametrize(
    "reader,absorbed",
    [
        (node("Conv", ["p", "w"], ["y"], pads=[1, 0, 0, 1]), True),
        (node("AveragePool", ["p"], ["y"], kernel_shape=[2, 2], count_include_pad=1), True),
        (node("AveragePool", ["p"], ["y"], kernel_shape=[2, 2]), False),  # pads would not be counted
        (node("MaxPool", ["p"], ["y"], kernel_shape=[2, 2]), False),  # pads would be -inf
    ],
    ids=["conv", "avgpool_counting_pads", "avgpool_excluding_pads", "maxpool"],
)
def test_zero_pad_goes_into_a_reader_that_pads_with_zeros(reader, absorbed):
    """The pads are computed (Concat of constants, as torch's legacy exporter writes ZeroPad2d)."""
    ir = _lower(
        [node("Concat", ["head", "tail"], ["pads"], axis=0), node("Pad", ["x", "pads"], ["p"]), reader],
        {
            "head": np.array([0, 0, 1, 1], np.int64),
            "tail": np.array([0, 0, 1, 0], np.int64),
            "w": rand(RNG, 2, 3, 3, 3),
        },
        (3, 5, 5),
    )
    if absorbed:
        (op,) = ir
        assert op.inputs == ["x"]
        assert op.attrs["pads"] == ((2, 1, 1, 1) if reader.op_type == "Conv" else (1, 1, 1, 0))
    else:
        assert [op.kind for op in ir][0] == IrKind.CONV and ir[0].attrs["pads"] == (1, 1, 1, 0)

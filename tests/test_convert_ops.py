"""The ops exporters emit (issue 11's list), each converted and run against onnxruntime's float result,
and each failure class with the error a user sees (it names the op, the node and what to use instead)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

from evm_ext.model import ConversionError
from evm_ext.model.convert import convert
from tests.engine_onnx import onnx_model, quantization_error, rand

RNG = np.random.default_rng(1111)
node = helper.make_node
I64 = np.int64


def _bn(c: int) -> dict[str, np.ndarray]:
    return {
        "g": rand(RNG, c) + 1,
        "be": rand(RNG, c),
        "mu": rand(RNG, c),
        "var": np.abs(rand(RNG, c)) + 0.5,
    }


BN = ["g", "be", "mu", "var"]
CONV_W = rand(RNG, 4, 3, 3, 3)

# (name, nodes, initializers, per-sample input shape, tolerance in output steps, expected op kinds)
CASES = [
    (
        "cast_to_float_removed",
        [node("Cast", ["x"], ["c"], to=TensorProto.FLOAT), node("Relu", ["c"], ["y"])],
        {},
        (6,),
        0.51,
        ["lookup"],
    ),
    (
        "squeeze_unsqueeze",
        [
            node("Unsqueeze", ["x", "ax"], ["u"]),
            node("Squeeze", ["u", "ax"], ["s"]),
            node("Gemm", ["s", "w"], ["y"], transB=1),
        ],
        {"ax": np.array([2], I64), "w": rand(RNG, 3, 6)},
        (6,),
        1.0,
        ["reshape", "reshape", "fully_connected"],
    ),
    (
        "constant_of_shape_feeds_reshape",
        [
            node(
                "ConstantOfShape",
                ["one"],
                ["m1"],
                value=helper.make_tensor("v", TensorProto.INT64, [1], [-1]),
            ),
            node("Shape", ["x"], ["s"]),
            node("Slice", ["s", "zero", "one"], ["n"]),
            node("Concat", ["n", "m1"], ["shape"], axis=0),
            node("Reshape", ["x", "shape"], ["y"]),
        ],
        {"one": np.array([1], I64), "zero": np.array([0], I64)},
        (2, 3, 4),
        1e-4,
        ["reshape"],
    ),
    (
        "constant_node_feeds_reshape",
        [
            node(
                "Constant", [], ["shape"], value=helper.make_tensor("s", TensorProto.INT64, [3], [0, 6, -1])
            ),
            node("Reshape", ["x", "shape"], ["y"]),
        ],
        {},
        (2, 3, 4),
        1e-4,
        ["reshape"],
    ),
    (
        "nhwc_transpose_pair_around_conv_with_bias",
        [
            node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
            node("Conv", ["t", "w"], ["c"], pads=[1, 1, 1, 1]),
            node("Transpose", ["c"], ["ct"], perm=[0, 2, 3, 1]),
            node("Add", ["ct", "b"], ["a"]),
            node("Relu", ["a"], ["r"]),
            node("Transpose", ["r"], ["rt"], perm=[0, 3, 1, 2]),
            node("Conv", ["rt", "w2"], ["c2"]),
            node("Transpose", ["c2"], ["y"], perm=[0, 2, 3, 1]),
        ],
        {"w": CONV_W, "b": rand(RNG, 4), "w2": rand(RNG, 2, 4, 1, 1)},
        (6, 5, 3),
        2.0,
        ["transpose", "conv", "conv", "transpose"],
    ),
    (
        "gemm_trans_a_after_transpose",
        [
            node("Transpose", ["x"], ["xt"], perm=[1, 0]),
            node("Gemm", ["xt", "w", "c"], ["y"], transA=1, alpha=0.5, beta=2.0),
        ],
        {"w": rand(RNG, 7, 4), "c": rand(RNG, 4)},
        (7,),
        1.0,
        ["fully_connected"],
    ),
    (
        "matmul_add",
        [node("MatMul", ["x", "w"], ["m"]), node("Add", ["m", "b"], ["y"])],
        {"w": rand(RNG, 7, 4), "b": rand(RNG, 4)},
        (7,),
        1.0,
        ["fully_connected"],
    ),
    (
        "batchnorm_after_gemm_folded",
        [node("Gemm", ["x", "w"], ["fc"], transB=1), node("BatchNormalization", ["fc", *BN], ["y"])],
        {"w": rand(RNG, 5, 7), **_bn(5)},
        (7,),
        1.0,
        ["fully_connected"],
    ),
    (
        "batchnorm_standalone_rank1",
        [node("BatchNormalization", ["x", *BN], ["y"])],
        {**_bn(6)},
        (6,),
        1.0,
        ["fully_connected"],
    ),
    (
        "conv_mul_div_per_channel_folded",
        [
            node("Conv", ["x", "w"], ["c"]),
            node("Mul", ["c", "k"], ["m"]),
            node("Div", ["m", "d"], ["y"]),
        ],
        {"w": CONV_W, "k": rand(RNG, 1, 4, 1, 1) + 1, "d": np.abs(rand(RNG, 4, 1, 1)) + 0.5},
        (3, 6, 6),
        1.5,
        ["conv"],
    ),
    (
        "decomposed_batchnorm_after_relu_is_a_per_channel_affine",
        [
            node("Relu", ["x"], ["r"]),
            node("Sub", ["r", "mu"], ["s"]),
            node("Mul", ["s", "k"], ["m"]),
            node("Add", ["m", "be"], ["y"]),
        ],
        {"mu": rand(RNG, 3, 1, 1), "k": rand(RNG, 3, 1, 1) + 1, "be": rand(RNG, 3, 1, 1)},
        (3, 4, 4),
        1.5,
        ["lookup", "conv"],
    ),
    (
        "constant_minus_vector_and_division_per_channel",
        [node("Sub", ["c", "x"], ["s"]), node("Relu", ["s"], ["r"]), node("Div", ["r", "d"], ["y"])],
        {"c": rand(RNG, 5), "d": np.abs(rand(RNG, 5)) + 0.5},
        (5,),
        1.0,
        ["fully_connected", "fully_connected"],  # c - x with the ReLU fused, then x / d (after a clamp)
    ),
    (
        "reduce_mean_hw_is_global_avgpool",
        [node("ReduceMean", ["x"], ["y"], axes=[2, 3], keepdims=1)],
        {},
        (3, 4, 5),
        0.51,
        ["avg_pool"],
    ),
    (
        "reduce_mean_nhwc_opset18",
        [node("ReduceMean", ["x", "axes"], ["y"], keepdims=0)],
        {"axes": np.array([1, 2], I64)},
        (4, 5, 3),
        0.51,
        ["transpose", "avg_pool", "reshape"],
    ),
    (
        "pad_folded_into_conv",
        [node("Pad", ["x", "p"], ["pd"]), node("Conv", ["pd", "w"], ["y"])],
        {"p": np.array([0, 0, 1, 2, 0, 0, 1, 0], I64), "w": CONV_W},
        (3, 6, 6),
        1.5,
        ["conv"],
    ),
    (
        "pad_folded_into_avgpool_counting_pads",
        [
            node("Pad", ["x", "p"], ["pd"]),
            node("AveragePool", ["pd"], ["y"], kernel_shape=[2, 2], strides=[2, 2], count_include_pad=1),
        ],
        {"p": np.array([0, 0, 1, 1, 0, 0, 1, 1], I64)},
        (3, 6, 6),
        0.51,
        ["avg_pool"],
    ),
    (
        "pad_standalone_before_maxpool",
        [
            node("Pad", ["x", "p"], ["pd"]),
            node("MaxPool", ["pd"], ["y"], kernel_shape=[2, 2], strides=[2, 2]),
        ],
        {"p": np.array([0, 0, 1, 1, 0, 0, 1, 1], I64)},
        (3, 6, 6),
        0.51,
        ["conv", "max_pool"],
    ),
    (
        "pad_opset10_attribute",
        [node("Pad", ["x"], ["y"], pads=[0, 0, 2, 1, 0, 0, 0, 1])],
        {},
        (2, 4, 4),
        0.51,
        ["conv"],
    ),
    (
        "clip_relu6_fused",
        [node("Gemm", ["x", "w"], ["g"], transB=1), node("Clip", ["g", "lo", "hi"], ["y"])],
        {"w": rand(RNG, 5, 7, scale=1.0), "lo": np.float32(0), "hi": np.float32(6)},
        (7,),
        2.0,
        ["fully_connected"],
    ),
    (
        "clip_general_bounds",
        [node("Clip", ["x", "lo", "hi"], ["y"])],
        {"lo": np.float32(-0.5), "hi": np.float32(0.8)},
        (3, 4, 4),
        0.51,
        ["lookup"],
    ),
    (
        "hard_sigmoid",
        [node("HardSigmoid", ["x"], ["y"], alpha=0.2, beta=0.5)],
        {},
        (3, 4, 4),
        0.51,
        ["lookup"],
    ),
    ("hard_swish", [node("HardSwish", ["x"], ["y"])], {}, (3, 4, 4), 0.51, ["lookup"]),
    ("sigmoid", [node("Sigmoid", ["x"], ["y"])], {}, (3, 4, 4), 0.51, ["lookup"]),
    ("softmax_axis_1_of_chw", [node("Softmax", ["x"], ["y"], axis=1)], {}, (4, 2, 3), 1.0, ["softmax"]),
    (
        "resize_nearest_scales",
        [node("Resize", ["x", "", "sc"], ["y"], mode="nearest")],
        {"sc": np.array([1, 1, 2, 3], np.float32)},
        (3, 4, 4),
        0.51,
        ["conv_transpose"],
    ),
    (
        "resize_nearest_computed_sizes_half_pixel",
        [
            node("Shape", ["x"], ["s"]),
            node("Slice", ["s", "zero", "two"], ["nc"]),
            node("Concat", ["nc", "hw"], ["sz"], axis=0),
            node(
                "Resize",
                ["x", "", "", "sz"],
                ["y"],
                mode="nearest",
                coordinate_transformation_mode="half_pixel",
                nearest_mode="round_prefer_floor",
            ),
        ],
        {"zero": np.array([0], I64), "two": np.array([2], I64), "hw": np.array([8, 12], I64)},
        (3, 4, 4),
        0.51,
        ["conv_transpose"],
    ),
    (
        "residual_add",
        [
            node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
            node("Relu", ["c"], ["r"]),
            node("Add", ["r", "x"], ["y"]),
        ],
        {"w": rand(RNG, 3, 3, 3, 3), "b": rand(RNG, 3)},
        (3, 5, 5),
        1.5,
        ["conv", "add"],
    ),
    (
        "add_and_mul_of_different_scales",
        [
            node("Gemm", ["x", "w1"], ["a"], transB=1),
            node("Gemm", ["x", "w2"], ["b"], transB=1),
            node("Add", ["a", "b"], ["s"]),
            node("Mul", ["s", "a"], ["y"]),
        ],
        {"w1": rand(RNG, 4, 6, scale=0.1), "w2": rand(RNG, 4, 6, scale=2.0)},
        (6,),
        1.5,
        ["fully_connected", "fully_connected", "add", "mul"],
    ),
]


@pytest.mark.parametrize("name,nodes,inits,shape,tolerance,kinds", CASES, ids=[c[0] for c in CASES])
def test_exporter_op_converts_close_to_float(name, nodes, inits, shape, tolerance, kinds):
    opset = 10 if name == "pad_opset10_attribute" else (18 if "opset18" in name else 17)
    model, err = quantization_error(onnx_model(nodes, inits, shape, opset=opset), shape)
    assert [op.kind.name.lower() for op in model.ops] == kinds
    assert err <= tolerance, f"{name}: {err:.3f} output steps"


def test_softmax_before_opset_13_over_several_axes():
    """Opset 11 Softmax(axis=1) of (N, C, H, W) normalises over C*H*W: reshape, softmax, reshape."""
    m = onnx_model([node("Softmax", ["x"], ["y"], axis=1)], {}, (2, 3, 2), opset=11)
    model, err = quantization_error(m, (2, 3, 2))
    assert [op.kind.name.lower() for op in model.ops] == ["reshape", "softmax", "reshape"]
    assert model.ops[0].out.shape == (12,) and model.output_shape == (2, 3, 2)
    assert err <= 1.0


def test_flatten_axis_2_keeps_per_sample_rows():
    model = convert(
        onnx_model([node("Flatten", ["x"], ["y"], axis=2)], {}, (2, 3, 4)), RNG.normal(size=(8, 2, 3, 4))
    )
    assert model.output_shape == (2, 12)


def test_upsample_opset9_nearest():
    m = onnx_model(
        [node("Upsample", ["x", "sc"], ["y"], mode="nearest")],
        {"sc": np.array([1, 1, 2, 2], np.float32)},
        (2, 3, 3),
        opset=9,
    )
    model, err = quantization_error(m, (2, 3, 3))
    assert model.output_shape == (2, 6, 6) and err <= 0.51


# -- failure classes: each names the op, the node and the nearest supported alternative ---------------


def _fails(nodes, inits, shape, match, opset=17):
    with pytest.raises(ConversionError, match=match):
        convert(onnx_model(nodes, inits, shape, opset=opset), RNG.normal(size=(8, *shape)))


def test_cast_of_an_activation_to_int_names_node_and_alternative():
    _fails(
        [node("Cast", ["x"], ["y"], to=TensorProto.INT64, name="/Cast")],
        {},
        (4,),
        r"Cast node '/Cast': casts an activation to INT64.*nearest supported: a Cast to FLOAT",
    )


def test_unknown_op_names_nearest_supported_alternative():
    _fails(
        [node("LayerNormalization", ["x", "s"], ["y"], name="ln")],
        {"s": np.ones(4, np.float32)},
        (4,),
        r"unsupported operator: LayerNormalization node 'ln' .*nearest supported: BatchNormalization",
    )


def test_resize_linear_is_refused_with_nearest_alternative():
    _fails(
        [node("Resize", ["x", "", "sc"], ["y"], mode="linear", name="up")],
        {"sc": np.array([1, 1, 2, 2], np.float32)},
        (2, 3, 3),
        r"Resize node 'up'.*nearest supported: Resize mode='nearest' with integer scales",
    )


def test_resize_fractional_scale_is_refused():
    _fails(
        [node("Resize", ["x", "", "sc"], ["y"], mode="nearest", name="up")],
        {"sc": np.array([1, 1, 1.5, 1.5], np.float32)},
        (2, 4, 4),
        r"Resize node 'up'.*integer factors",
    )


@pytest.mark.parametrize("mode,value", [("reflect", None), ("constant", 0.5)])
def test_pad_other_than_zero_constant_is_refused(mode, value):
    inits = {"p": np.array([0, 0, 1, 1, 0, 0, 1, 1], I64)}
    inputs = ["x", "p"]
    if value is not None:
        inits["v"] = np.float32(value)
        inputs.append("v")
    _fails(
        [node("Pad", inputs, ["y"], mode=mode, name="pad")],
        inits,
        (2, 4, 4),
        r"Pad node 'pad'.*nearest supported: the pads attribute of the next Conv or pool",
    )


def test_gemm_trans_a_on_an_activation_says_what_to_export():
    _fails(
        [node("Gemm", ["x", "w"], ["y"], transA=1, name="g")],
        {"w": rand(RNG, 8, 3)},
        (8,),
        r"Gemm node 'g': transA=1 .*export x @ W \(transA=0\)",
    )


def test_reduce_mean_over_channels_is_refused():
    _fails(
        [node("ReduceMean", ["x"], ["y"], axes=[1], name="mean")],
        {},
        (3, 4, 4),
        r"ReduceMean node 'mean'.*nearest supported: GlobalAveragePool",
    )


def test_add_of_a_non_per_channel_constant_is_refused():
    _fails(
        [node("Add", ["x", "c"], ["y"], name="add")],
        {"c": rand(RNG, 3, 4, 4)},
        (3, 4, 4),
        r"Add node 'add'.*neither a scalar nor one value per channel "
        r"\(nearest supported: a per-channel or scalar Add\)",
    )


@pytest.mark.parametrize(
    "nodes,inits,shape",
    [
        ([node("Transpose", ["x"], ["y"], perm=[1, 0], name="n")], {}, (4,)),
        ([node("Concat", ["x", "c"], ["y"], axis=1, name="n")], {"c": np.ones((8, 2), np.float32)}, (4,)),
        ([node("ArgMax", ["x"], ["y"], axis=1, select_last_index=1, name="n")], {}, (4,)),
        ([node("Softmax", ["x"], ["y"], axis=0, name="n")], {}, (4,)),
        (
            [node("Gemm", ["x", "w", "c"], ["y"], name="n")],
            {"w": rand(RNG, 4, 3), "c": rand(RNG, 8, 3)},
            (4,),
        ),
        ([node("MatMul", ["x", "w"], ["y"], name="n")], {"w": rand(RNG, 2, 4, 3)}, (4,)),
        ([node("Mul", ["x", "x"], ["m"]), node("Pow", ["m", "x"], ["y"], name="n")], {}, (4,)),
    ],
    ids=[
        "transpose_batch",
        "concat_constant",
        "argmax_last",
        "softmax_batch",
        "gemm_c",
        "matmul_3d",
        "pow_live",
    ],
)
def test_refused_op_forms_name_the_node_and_an_alternative(nodes, inits, shape):
    op_type = nodes[-1].op_type
    _fails(nodes, inits, shape, rf"{op_type} node 'n'.*\(nearest supported: [^)]+")

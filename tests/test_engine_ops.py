"""Each operator against onnxruntime's float result (documented tolerance: docs/quantization.md)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from evm_ext.model import ConversionError
from evm_ext.model.convert import convert
from tests.engine_onnx import onnx_model, quantization_error, rand

RNG = np.random.default_rng(1234)
node = helper.make_node


def _conv_case(kernel=3, stride=1, pads=(1, 1, 1, 1), dilation=1, group=1, cin=4, cout=6):
    w = rand(RNG, cout, cin // group, kernel, kernel)
    attrs = dict(
        kernel_shape=[kernel, kernel],
        strides=[stride, stride],
        pads=list(pads),
        dilations=[dilation, dilation],
        group=group,
    )
    return [node("Conv", ["x", "w", "b"], ["y"], **attrs)], {"w": w, "b": rand(RNG, cout)}, (cin, 9, 8)


def _convt_case(kernel=4, stride=2, pads=(1, 1, 1, 1), output_padding=(0, 0), cin=4, cout=3, group=1):
    attrs = dict(
        kernel_shape=[kernel, kernel],
        strides=[stride, stride],
        pads=list(pads),
        output_padding=list(output_padding),
        group=group,
    )
    return (
        [node("ConvTranspose", ["x", "w", "b"], ["y"], **attrs)],
        {"w": rand(RNG, cin, cout // group, kernel, kernel), "b": rand(RNG, cout)},
        (cin, 5, 6),
    )


def _unary(op_type, **attrs):
    return [node(op_type, ["x"], ["y"], **attrs)], {}, (3, 5, 5)


# (name, nodes, initializers, per-sample input shape, tolerance in output steps)
CASES = [
    (
        "gemm",
        [node("Gemm", ["x", "w", "b"], ["y"], transB=1)],
        {"w": rand(RNG, 7, 20), "b": rand(RNG, 7)},
        (20,),
        1.5,
    ),
    (
        "gemm_alpha_beta_row_bias",
        [node("Gemm", ["x", "w", "b"], ["y"], alpha=0.5, beta=2.0)],
        {"w": rand(RNG, 20, 7), "b": rand(RNG, 1, 7)},
        (20,),
        1.5,
    ),
    (
        "matmul_add",
        [node("MatMul", ["x", "w"], ["m"]), node("Add", ["m", "b"], ["y"])],
        {"w": rand(RNG, 20, 7), "b": rand(RNG, 7)},
        (20,),
        1.5,
    ),
    (
        "gemm_relu",
        [node("Gemm", ["x", "w", "b"], ["g"], transB=1), node("Relu", ["g"], ["y"])],
        {"w": rand(RNG, 7, 20), "b": rand(RNG, 7)},
        (20,),
        1.5,
    ),
    ("conv", *_conv_case(), 1.5),
    ("conv_stride_dilation", *_conv_case(kernel=3, stride=2, pads=(2, 1, 0, 2), dilation=2), 1.5),
    ("conv_groups", *_conv_case(group=2), 1.5),
    ("conv_depthwise", *_conv_case(group=4, cin=4, cout=8), 1.5),
    ("conv_transpose", *_convt_case(), 1.5),
    ("conv_transpose_groups", *_convt_case(cin=4, cout=6, group=2), 1.5),
    (
        "conv_transpose_outpad",
        *_convt_case(kernel=3, stride=2, pads=(0, 1, 1, 0), output_padding=(1, 1)),
        1.5,
    ),
    (
        "conv_bn_relu6",
        [
            node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
            node("BatchNormalization", ["c", "g", "be", "mu", "var"], ["n"]),
            node("Clip", ["n", "lo", "hi"], ["y"]),
        ],
        {
            "w": rand(RNG, 5, 3, 3, 3),
            "g": rand(RNG, 5) + 1,
            "be": rand(RNG, 5),
            "mu": rand(RNG, 5),
            "var": np.abs(rand(RNG, 5)) + 0.5,
            "lo": np.float32(0),
            "hi": np.float32(6),
        },
        (3, 6, 6),
        3.5,
    ),
    (
        "batchnorm_standalone",
        [node("BatchNormalization", ["x", "g", "be", "mu", "var"], ["y"])],
        {"g": rand(RNG, 3) + 1, "be": rand(RNG, 3), "mu": rand(RNG, 3), "var": np.abs(rand(RNG, 3)) + 0.5},
        (3, 4, 4),
        1.5,
    ),
    ("relu", *_unary("Relu"), 0.51),
    ("leaky_relu", *_unary("LeakyRelu", alpha=0.1), 0.51),
    ("tanh", *_unary("Tanh"), 0.51),
    ("sigmoid", *_unary("Sigmoid"), 0.51),
    ("mul_scalar", [node("Mul", ["x", "k"], ["y"])], {"k": np.float32(-0.7)}, (6,), 0.51),
    (
        "add_branches",
        [node("Tanh", ["x"], ["a"]), node("Sigmoid", ["x"], ["s"]), node("Add", ["a", "s"], ["y"])],
        {},
        (3, 4, 4),
        1.5,
    ),
    (
        "add_broadcast",
        [node("Relu", ["x"], ["a"]), node("GlobalAveragePool", ["x"], ["m"]), node("Add", ["a", "m"], ["y"])],
        {},
        (2, 3, 3),
        1.5,
    ),
    (
        "mul_branches",
        [node("Tanh", ["x"], ["a"]), node("Sigmoid", ["x"], ["s"]), node("Mul", ["a", "s"], ["y"])],
        {},
        (3, 4, 4),
        1.5,
    ),
    (
        "maxpool",
        [node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])],
        {},
        (3, 7, 8),
        0.51,
    ),
    (
        "avgpool",
        [node("AveragePool", ["x"], ["y"], kernel_shape=[2, 3], strides=[2, 1])],
        {},
        (3, 6, 7),
        0.51,
    ),
    (
        "avgpool_pads_excluded",
        [node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])],
        {},
        (2, 7, 7),
        0.51,
    ),
    (
        "avgpool_pads_included",
        [node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=1)],
        {},
        (2, 5, 5),
        0.51,
    ),
    ("global_avgpool", [node("GlobalAveragePool", ["x"], ["y"])], {}, (4, 5, 5), 0.51),
    ("flatten", [node("Flatten", ["x"], ["y"])], {}, (2, 3, 4), 1e-4),
    ("reshape", [node("Reshape", ["x", "s"], ["y"])], {"s": np.array([0, 4, -1], np.int64)}, (2, 3, 4), 1e-4),
    ("transpose", [node("Transpose", ["x"], ["y"], perm=[0, 2, 3, 1])], {}, (2, 3, 4), 1e-4),
    (
        "concat",
        [node("Relu", ["x"], ["a"]), node("Tanh", ["x"], ["t"]), node("Concat", ["a", "t"], ["y"], axis=1)],
        {},
        (2, 3, 3),
        1.0,
    ),
    ("softmax", [node("Softmax", ["x"], ["y"], axis=-1)], {}, (10,), 1.0),
    (
        "conv_same_upper",
        [node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER")],
        {"w": rand(RNG, 4, 2, 3, 3)},
        (2, 7, 6),
        1.5,
    ),
    (
        "maxpool_same_lower",
        [node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], auto_pad="SAME_LOWER")],
        {},
        (2, 5, 5),
        0.51,
    ),
    (
        "identity_dropout",
        [
            node("Identity", ["x"], ["i"]),
            node("Gemm", ["i", "w", "b"], ["g"], transB=1),
            node("Dropout", ["g"], ["d"]),
            node("Relu", ["d"], ["r"]),
            node("Identity", ["r"], ["y"]),
        ],
        {"w": rand(RNG, 5, 8), "b": rand(RNG, 5)},
        (8,),
        1.5,
    ),
    (
        "nhwc_input_tf2onnx",
        [
            node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
            node("Conv", ["t", "w", "b"], ["c"], kernel_shape=[3, 3]),
            node("Relu", ["c"], ["r"]),
            node("Reshape", ["r", "s"], ["f"]),
            node("MatMul", ["f", "w2"], ["m"]),
            node("Add", ["m", "b2"], ["y"]),
        ],
        {
            "w": rand(RNG, 4, 3, 3, 3),
            "b": rand(RNG, 4),
            "s": np.array([-1, 64], np.int64),
            "w2": rand(RNG, 64, 5),
            "b2": rand(RNG, 5),
        },
        (6, 6, 3),
        2.5,
    ),
]


@pytest.mark.parametrize("name,nodes,inits,shape,tolerance", CASES, ids=[c[0] for c in CASES])
def test_op_matches_float_reference(name, nodes, inits, shape, tolerance):
    model, err = quantization_error(onnx_model(nodes, inits, shape), shape)
    assert err <= tolerance, f"{name}: {err:.3f} output steps"


def test_fusions_leave_one_op():
    """Bias Add, BatchNormalization and Clip fuse into the conv: one op, clamp range of Relu6."""
    name, nodes, inits, shape, _ = next(c for c in CASES if c[0] == "conv_bn_relu6")
    model, _ = quantization_error(onnx_model(nodes, inits, shape), shape)
    assert [op.kind.name.lower() for op in model.ops] == ["conv"]
    rq = model.ops[0].requant
    assert rq.lo == rq.zero_point  # real 0
    assert abs((rq.hi - rq.zero_point) * rq.scale - 6.0) <= rq.scale


def test_grouped_conv_transpose_batchnorm_folds():
    nodes = [
        node("ConvTranspose", ["x", "w"], ["c"], kernel_shape=[3, 3], strides=[2, 2], group=2),
        node("BatchNormalization", ["c", "g", "be", "mu", "var"], ["y"]),
    ]
    inits = {
        "w": rand(RNG, 4, 3, 3, 3),
        "g": rand(RNG, 6) + 1,
        "be": rand(RNG, 6),
        "mu": rand(RNG, 6),
        "var": np.abs(rand(RNG, 6)) + 0.5,
    }
    model, err = quantization_error(onnx_model(nodes, inits, (4, 3, 3)), (4, 3, 3))
    assert [op.kind.name.lower() for op in model.ops] == ["conv_transpose"]
    assert model.output_shape == (6, 7, 7)
    assert err <= 1.5


def test_legacy_view_flatten_shape_arithmetic():
    """torch's x.view(x.size(0), -1): Shape, Gather, Unsqueeze, Concat, Reshape become one reshape."""
    nodes = [
        node("Shape", ["x"], ["s"]),
        node("Gather", ["s", "zero"], ["n"], axis=0),
        node("Unsqueeze", ["n", "axes"], ["n1"]),
        node("Concat", ["n1", "minus_one"], ["shape"], axis=0),
        node("Reshape", ["x", "shape"], ["f"]),
        node("Gemm", ["f", "w", "b"], ["y"], transB=1),
    ]
    inits = {
        "zero": np.array(0, np.int64),
        "axes": np.array([0], np.int64),
        "minus_one": np.array([-1], np.int64),
        "w": rand(RNG, 4, 18),
        "b": rand(RNG, 4),
    }
    model, err = quantization_error(onnx_model(nodes, inits, (2, 3, 3)), (2, 3, 3))
    assert [op.kind.name.lower() for op in model.ops] == ["reshape", "fully_connected"]
    assert model.ops[0].out.shape == (18,) and err <= 1.5


def test_fused_graphs_have_expected_ops():
    kinds = {}
    for name in ("identity_dropout", "nhwc_input_tf2onnx"):
        _, nodes, inits, shape, _ = next(c for c in CASES if c[0] == name)
        model, _ = quantization_error(onnx_model(nodes, inits, shape), shape)
        kinds[name] = [op.kind.name.lower() for op in model.ops]
    assert kinds == {
        "identity_dropout": ["fully_connected"],
        "nhwc_input_tf2onnx": ["transpose", "conv", "reshape", "fully_connected"],
    }


def test_argmax_matches_float_argmax():
    nodes = [node("Gemm", ["x", "w", "b"], ["g"], transB=1), node("ArgMax", ["g"], ["y"], axis=1, keepdims=0)]
    inits = {"w": rand(RNG, 10, 12), "b": rand(RNG, 10)}
    rng = np.random.default_rng(3)
    calib = rng.normal(size=(64, 12)).astype(np.float32)
    model = convert(onnx_model(nodes, inits, (12,)), calib)
    assert model.output_shape == (1,) and model.output_size == 1
    got = model.run(model.quantize_input(calib)).reshape(-1)
    logits = calib @ inits["w"].T + inits["b"]
    assert np.mean(got == logits.argmax(1)) >= 0.9
    int_logits = model.ops[0].run([model.quantize_input(calib)])
    assert np.array_equal(got, int_logits.argmax(1))  # exactly the argmax of the int8 logits


def test_unsupported_op_is_named():
    nodes = [node("Gemm", ["x", "w"], ["g"], transB=1), node("TopK", ["g", "k"], ["y", "i"], name="my_topk")]
    model = onnx_model(nodes, {"w": rand(RNG, 6, 4), "k": np.array([2], np.int64)}, (4,))
    with pytest.raises(ConversionError, match="TopK node 'my_topk'"):
        convert(model, np.ones((4, 4), np.float32))

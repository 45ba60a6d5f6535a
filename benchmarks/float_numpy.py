"""The float32 reference: an ONNX graph executed with plain numpy (weights read from the .onnx file).

This is the "what does the float model cost in numpy" baseline for the engine comparison. Each node is
compiled once into a closure over float32 weights (pre-transposed for matmul), so a call runs only the
numpy kernels: Gemm/MatMul as BLAS sgemm, Conv/ConvTranspose as im2col + sgemm. Layout is NCHW as in ONNX.
Only the operators the shipped models use are supported; anything else raises UnsupportedOnnxError.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from numpy.lib.stride_tricks import sliding_window_view
from onnx import numpy_helper

from evm_ext.errors import AievmError

Kernel = Callable[[dict[str, np.ndarray]], None]


class UnsupportedOnnxError(AievmError):
    """The ONNX graph uses an operator or attribute this numpy runner does not implement."""


class FloatModel:
    """A float32 ONNX model runnable with numpy: `run(x)` takes and returns batch-first arrays."""

    def __init__(self, graph: onnx.GraphProto) -> None:
        self.consts: dict[str, np.ndarray] = {}
        for tensor in graph.initializer:
            value = numpy_helper.to_array(tensor)
            self.consts[tensor.name] = value.astype(np.float32) if value.dtype.kind == "f" else value
        self.input_name = next(i.name for i in graph.input if i.name not in self.consts)
        self.output_name = graph.output[0].name
        self.kernels: list[Kernel] = [self._compile(node) for node in graph.node]

    def run(self, x: np.ndarray) -> np.ndarray:
        env = {self.input_name: np.asarray(x, dtype=np.float32)}
        for kernel in self.kernels:
            kernel(env)
        return env[self.output_name]

    def _compile(self, node: onnx.NodeProto) -> Kernel:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        build = _BUILDERS.get(node.op_type)
        if build is None:
            raise UnsupportedOnnxError(
                f"numpy float runner: unsupported ONNX op {node.op_type} ({node.name})"
            )
        fn = build(self, node, attrs)
        ins, out = [name for name in node.input if name and name not in self.consts], node.output[0]
        if fn is None:  # Constant: registered by its builder
            return lambda env: None
        if not ins:  # an Identity of an initializer (the torch exporter emits these): an alias
            if node.op_type not in ("Identity", "Dropout"):
                raise UnsupportedOnnxError(f"numpy float runner: {node.op_type} of constants ({node.name})")
            self.consts[out] = self.consts[node.input[0]]
            return lambda env: None

        def kernel(env: dict[str, np.ndarray]) -> None:
            env[out] = fn(*(env[name] for name in ins))

        return kernel

    def const(self, name: str) -> np.ndarray:
        if name not in self.consts:
            raise UnsupportedOnnxError(f"numpy float runner: {name!r} must be a constant initializer")
        return self.consts[name]


def load_float_model(path: str | Path) -> FloatModel:
    """Read an .onnx file into a FloatModel (float32 numpy execution)."""
    return FloatModel(onnx.load(str(path)).graph)


def _gemm(model: FloatModel, node: onnx.NodeProto, attrs: dict) -> Callable:
    w = model.const(node.input[1]) * np.float32(attrs.get("alpha", 1.0))
    w = np.ascontiguousarray(w if attrs.get("transB", 0) == 0 else w.T)
    bias = (
        model.const(node.input[2]) * np.float32(attrs.get("beta", 1.0))
        if len(node.input) > 2
        else np.float32(0)
    )
    if attrs.get("transA", 0):
        raise UnsupportedOnnxError(f"numpy float runner: Gemm transA=1 ({node.name})")
    return lambda x: x @ w + bias


def _matmul(model: FloatModel, node: onnx.NodeProto, attrs: dict) -> Callable:
    w = np.ascontiguousarray(model.const(node.input[1]))
    return lambda x: x @ w


def _binary(op: Callable) -> Callable:
    def build(model: FloatModel, node: onnx.NodeProto, attrs: dict) -> Callable:
        a, b = (model.consts.get(name) for name in node.input[:2])
        if a is None and b is None:
            return op
        if b is not None:
            return lambda x: op(x, b)
        return lambda x: op(a, x)

    return build


def _unary(op: Callable) -> Callable:
    return lambda model, node, attrs: op


def _leaky_relu(model: FloatModel, node: onnx.NodeProto, attrs: dict) -> Callable:
    alpha = np.float32(attrs.get("alpha", 0.01))
    return lambda x: np.where(x >= 0, x, x * alpha)


def _clip(model: FloatModel, node: onnx.NodeProto, attrs: dict) -> Callable:
    lo = model.consts.get(node.input[1]) if len(node.input) > 1 and node.input[1] else None
    hi = model.consts.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    return lambda x: np.clip(x, lo, hi)


def _flatten(model: FloatModel, node: onnx.NodeProto, attrs: dict) -> Callable:
    axis = attrs.get("axis", 1)
    return lambda x: x.reshape(int(np.prod(x.shape[:axis])), -1)


def _reshape(model: FloatModel, node: onnx.NodeProto, attrs: dict) -> Callable:
    shape = tuple(int(d) for d in model.const(node.input[1]))
    if shape[0] == 0:  # ONNX: 0 copies the input dimension (the batch)
        rest = shape[1:]
        return lambda x: x.reshape((x.shape[0], *rest))
    return lambda x: x.reshape(shape)


def _transpose(model: FloatModel, node: onnx.NodeProto, attrs: dict) -> Callable:
    perm = attrs.get("perm")
    return lambda x: x.transpose(perm)


def _identity(model: FloatModel, node: onnx.NodeProto, attrs: dict) -> Callable:
    return lambda x: x


def _constant(model: FloatModel, node: onnx.NodeProto, attrs: dict) -> None:
    model.consts[node.output[0]] = numpy_helper.to_array(attrs["value"])
    return None


def _softmax(model: FloatModel, node: onnx.NodeProto, attrs: dict) -> Callable:
    axis = attrs.get("axis", -1)

    def softmax(x: np.ndarray) -> np.ndarray:
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)

    return softmax


def _batchnorm(model: FloatModel, node: onnx.NodeProto, attrs: dict) -> Callable:
    """Inference-mode BatchNormalization on axis 1: x * k + (bias - mean * k), k = scale / sqrt(var + eps)."""
    scale, bias, mean, var = (model.const(name) for name in node.input[1:5])
    k = (scale / np.sqrt(var + np.float32(attrs.get("epsilon", 1e-5)))).astype(np.float32)
    offset = (bias - mean * k).astype(np.float32)

    def batchnorm(x: np.ndarray) -> np.ndarray:
        shape = (1, -1) + (1,) * (x.ndim - 2)
        return x * k.reshape(shape) + offset.reshape(shape)

    return batchnorm


def _pads(attrs: dict, node: onnx.NodeProto) -> tuple[int, int, int, int]:
    if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise UnsupportedOnnxError(f"numpy float runner: auto_pad is not supported ({node.name})")
    top, left, bottom, right = attrs.get("pads", (0, 0, 0, 0))
    return top, left, bottom, right


def _windows(x: np.ndarray, kernel: tuple[int, int], strides, dilations) -> np.ndarray:
    """(N, C, OH, OW, kh, kw) view of the (already padded) input."""
    kh, kw = kernel
    dh, dw = dilations
    view = sliding_window_view(x, ((kh - 1) * dh + 1, (kw - 1) * dw + 1), axis=(2, 3))
    return view[:, :, :: strides[0], :: strides[1], ::dh, ::dw]


def _conv_fn(w: np.ndarray, bias: np.ndarray | None, strides, dilations, pads, group: int) -> Callable:
    """Grouped 2-D convolution as im2col + one sgemm per group; w is (O, C/group, kh, kw)."""
    out_channels, _, kh, kw = w.shape
    per_group = out_channels // group
    mats = [
        np.ascontiguousarray(w[g * per_group : (g + 1) * per_group].reshape(per_group, -1).T)
        for g in range(group)
    ]
    top, left, bottom, right = pads
    b = None if bias is None else bias.reshape(1, -1, 1, 1)

    def conv(x: np.ndarray) -> np.ndarray:
        if any(pads):
            x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
        cols = _windows(x, (kh, kw), strides, dilations)  # N, C, OH, OW, kh, kw
        n, c, oh, ow = cols.shape[:4]
        cin = c // group
        outs = []
        for g, mat in enumerate(mats):
            patch = cols[:, g * cin : (g + 1) * cin].transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, -1)
            outs.append(patch @ mat)
        y = np.concatenate(outs, axis=1) if group > 1 else outs[0]
        y = y.reshape(n, oh, ow, out_channels).transpose(0, 3, 1, 2)
        return y + b if b is not None else np.ascontiguousarray(y)

    return conv


def _conv(model: FloatModel, node: onnx.NodeProto, attrs: dict) -> Callable:
    w = model.const(node.input[1])
    bias = model.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    return _conv_fn(
        w,
        bias,
        attrs.get("strides", (1, 1)),
        attrs.get("dilations", (1, 1)),
        _pads(attrs, node),
        attrs.get("group", 1),
    )


def _conv_transpose(model: FloatModel, node: onnx.NodeProto, attrs: dict) -> Callable:
    """ConvTranspose = stride-dilated input, padded by d*(k-1)-pad, convolved with the flipped kernel."""
    w = model.const(node.input[1])  # (C_in, C_out, kh, kw)
    if attrs.get("group", 1) != 1 or "output_shape" in attrs:
        raise UnsupportedOnnxError(f"numpy float runner: ConvTranspose group/output_shape ({node.name})")
    bias = model.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    sh, sw = attrs.get("strides", (1, 1))
    dh, dw = attrs.get("dilations", (1, 1))
    oph, opw = attrs.get("output_padding", (0, 0))
    top, left, bottom, right = _pads(attrs, node)
    kh, kw = w.shape[2:]
    flipped = np.ascontiguousarray(w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])
    ph, pw = dh * (kh - 1), dw * (kw - 1)
    conv = _conv_fn(
        flipped, bias, (1, 1), (dh, dw), (ph - top, pw - left, ph - bottom + oph, pw - right + opw), 1
    )
    if min(ph - top, pw - left, ph - bottom, pw - right) < 0:
        raise UnsupportedOnnxError(
            f"numpy float runner: ConvTranspose pads larger than the kernel ({node.name})"
        )

    def conv_transpose(x: np.ndarray) -> np.ndarray:
        n, c, h, wd = x.shape
        up = np.zeros((n, c, (h - 1) * sh + 1, (wd - 1) * sw + 1), dtype=np.float32)
        up[:, :, ::sh, ::sw] = x
        return conv(up)

    return conv_transpose


def _pool(reduce: Callable, pad_value: float) -> Callable:
    def build(model: FloatModel, node: onnx.NodeProto, attrs: dict) -> Callable:
        if attrs.get("ceil_mode", 0) or (reduce is np.mean and any(attrs.get("pads", ()))):
            raise UnsupportedOnnxError(f"numpy float runner: ceil_mode or padded average pool ({node.name})")
        kernel = tuple(attrs["kernel_shape"])
        strides = attrs.get("strides", (1, 1))
        top, left, bottom, right = _pads(attrs, node)

        def pool(x: np.ndarray) -> np.ndarray:
            if top or left or bottom or right:
                x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=pad_value)
            return reduce(_windows(x, kernel, strides, (1, 1)), axis=(4, 5))

        return pool

    return build


_BUILDERS: dict[str, Callable] = {
    "Gemm": _gemm,
    "MatMul": _matmul,
    "Add": _binary(np.add),
    "Sub": _binary(np.subtract),
    "Mul": _binary(np.multiply),
    "Div": _binary(np.divide),
    "Relu": _unary(lambda x: np.maximum(x, np.float32(0))),
    "LeakyRelu": _leaky_relu,
    "Clip": _clip,
    "Tanh": _unary(np.tanh),
    "Sigmoid": _unary(lambda x: np.float32(1) / (np.float32(1) + np.exp(-x))),
    "Flatten": _flatten,
    "Reshape": _reshape,
    "Transpose": _transpose,
    "Identity": _identity,
    "Dropout": _identity,
    "Constant": _constant,
    "Softmax": _softmax,
    "BatchNormalization": _batchnorm,
    "Conv": _conv,
    "ConvTranspose": _conv_transpose,
    "MaxPool": _pool(np.max, -np.inf),
    "AveragePool": _pool(np.mean, 0.0),
}

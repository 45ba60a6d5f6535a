"""What the converter accepts, and what to use instead of what it does not."""

from __future__ import annotations

import difflib
from collections.abc import Collection

import onnx

from evm_ext.model.convert.ir import label
from evm_ext.model.errors import ConversionError

# Elementwise functions of one tensor (other inputs must be input-independent scalars): lookup tables.
UNARY_OPS = frozenset(
    {
        "Relu",
        "LeakyRelu",
        "Tanh",
        "Sigmoid",
        "Clip",
        "Elu",
        "Selu",
        "Celu",
        "Softplus",
        "Softsign",
        "HardSigmoid",
        "HardSwish",
        "Gelu",
        "Mish",
        "Exp",
        "Log",
        "Neg",
        "Abs",
        "Sqrt",
        "Erf",
        "Sin",
        "Cos",
        "ThresholdedRelu",
        "Add",
        "Sub",
        "Mul",
        "Div",
        "Pow",
        "Min",
        "Max",
    }
)

# What to use instead of an op the converter has no lowering for.
_AFFINE = "BatchNormalization (a per-channel affine; per-sample statistics are not computed)"
ALTERNATIVES = {
    "LayerNormalization": _AFFINE,
    "InstanceNormalization": _AFFINE,
    "GroupNormalization": _AFFINE,
    "ReduceMax": "GlobalMaxPool",
    "ReduceSum": "GlobalAveragePool (a mean; scale the next layer's weights by the window size)",
    "Einsum": "MatMul with a constant weight",
    "LSTM": "Gemm with Sigmoid/Tanh and Mul/Add (unroll the recurrence)",
    "GRU": "Gemm with Sigmoid/Tanh and Mul/Add (unroll the recurrence)",
    "RNN": "Gemm with Tanh (unroll the recurrence)",
    "QuantizeLinear": "the float model: export without quantization, the converter quantizes it",
    "DequantizeLinear": "the float model: export without quantization, the converter quantizes it",
    "QLinearConv": "Conv (export the float model)",
    "QLinearMatMul": "MatMul (export the float model)",
    "ConvInteger": "Conv (export the float model)",
    "MatMulInteger": "MatMul (export the float model)",
    "TopK": "ArgMax",
    "Gather": "Reshape/Transpose (or Concat) of whole tensors",
    "Slice": "Reshape/Transpose (or Concat) of whole tensors",
    "Split": "separate layers joined with Concat",
    "DepthToSpace": "ConvTranspose",
    "SpaceToDepth": "Conv with stride",
}


def unsupported(node: onnx.NodeProto, supported: Collection[str]) -> ConversionError:
    """The error for an op type without a handler: names the op, the node and what to use instead."""
    t = node.op_type
    close = difflib.get_close_matches(t, list(supported), n=1, cutoff=0.6)
    alternative = ALTERNATIVES.get(t) or (
        close[0] if close else "see the supported ONNX ops in docs/models.md"
    )
    return ConversionError(
        f"unsupported operator: {label(node)} (op type {t!r}); nearest supported: {alternative}"
    )

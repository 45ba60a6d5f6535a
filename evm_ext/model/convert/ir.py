"""The float IR between the ONNX graph and the integer ops: one `IrOp` per integer op, in graph order.

Invariants: `inputs` and `output` are tensor names (ONNX names, or `<onnx name>/<suffix>` for the extra
ops one ONNX node lowers to); every conv-like weight is output-major (Cout, Cin/G, kh, kw), so folding
and per-output-channel quantization use axis 0 for all of them; `act` is a clamp range in real values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np
import onnx


class IrKind(Enum):
    """What an IR op becomes: exactly one integer op kind of the format."""

    FULLY_CONNECTED = "fully_connected"
    CONV = "conv"
    CONV_TRANSPOSE = "conv_transpose"
    LOOKUP = "lookup"
    ADD = "add"
    MUL = "mul"
    MAX_POOL = "max_pool"
    AVG_POOL = "avg_pool"
    RESHAPE = "reshape"
    TRANSPOSE = "transpose"
    CONCAT = "concat"
    SOFTMAX = "softmax"
    ARGMAX = "argmax"


LINEAR_KINDS = frozenset({IrKind.FULLY_CONNECTED, IrKind.CONV, IrKind.CONV_TRANSPOSE})


@dataclass
class IrOp:
    """A float-level op; `node` is the ONNX node it came from (error labels, lookup-table evaluation)."""

    kind: IrKind
    inputs: list[str]
    output: str
    node: onnx.NodeProto
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    act: tuple[float, float] | None = None  # fused clamp range (real values)
    attrs: dict = field(default_factory=dict)


def label(node: onnx.NodeProto) -> str:
    """How errors name a node: `<op type> node '<name>'`."""
    return f"{node.op_type} node {node.name or node.output[0]!r}"

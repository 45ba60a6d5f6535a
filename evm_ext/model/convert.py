"""ONNX -> on-chain model: post-training static quantization with calibration data.

1. onnxruntime runs the float graph on the calibration batch with every intermediate tensor exposed as an
   output: that gives each tensor's range and per-sample shape, and the value of every input-independent
   tensor (initializers, Constant nodes, folded shape arithmetic).
2. Nodes become a float IR in graph order, fusing what the integer engine does in one op: bias Add after
   MatMul/Conv, BatchNormalization, and ReLU/Clip (as a clamp) into the preceding linear op.
3. The IR is quantized: activations asymmetric per tensor from calibration ranges, weights symmetric per
   output channel, unary elementwise functions as 256-entry tables evaluated by onnxruntime itself.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from google.protobuf.message import DecodeError
from onnx import helper, numpy_helper

from evm_ext.model.errors import ConversionError
from evm_ext.model.ops import (
    Add,
    ArgMax,
    AvgPool,
    Concat,
    Conv,
    ConvTranspose,
    FullyConnected,
    Lookup,
    MaxPool,
    Mul,
    Op,
    Requant,
    Reshape,
    Softmax,
    Transpose,
    Value,
)
from evm_ext.model.quantize import choose_qparams, multiplier, quantize, quantize_weights, softmax_table
from evm_ext.model.runtime import Model
from evm_ext.tensor.conv import Geometry
from evm_ext.tensor.requant import INT8_MAX, INT8_MIN, M_MIN

# Elementwise functions of one tensor (other inputs must be input-independent scalars): become lookup tables.
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
RESHAPES = frozenset({"Flatten", "Reshape", "Squeeze", "Unsqueeze"})
PASSTHROUGH = frozenset({"Identity", "Dropout"})


@dataclass
class IrOp:
    """A float-level op: `kind` names the integer op it becomes; `output` is its ONNX tensor name."""

    kind: str
    inputs: list[str]
    output: str
    node: onnx.NodeProto
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    act: tuple[float, float] | None = None  # fused clamp range (real values)
    attrs: dict = field(default_factory=dict)


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _auto_pad(a: dict) -> str:
    mode = a.get("auto_pad", "NOTSET")
    return mode.decode() if isinstance(mode, bytes) else mode


def _swap_group_axes(w: np.ndarray, groups: int) -> np.ndarray:
    """ConvTranspose weight (Cin, Cout/G, kh, kw) <-> output-major (Cout, Cin/G, kh, kw); an involution.

    The IR keeps every conv weight output-major, so BatchNorm folding and per-output-channel
    quantization use axis 0 for all of them.
    """
    a, b = w.shape[:2]
    return (
        w.reshape(groups, a // groups, b, *w.shape[2:])
        .swapaxes(1, 2)
        .reshape(groups * b, a // groups, *w.shape[2:])
    )


def _label(node: onnx.NodeProto) -> str:
    return f"{node.op_type} node {node.name or node.output[0]!r}"


class _Calibration:
    """Observed ranges, per-sample shapes and input-independent values of every tensor."""

    def __init__(self, model: onnx.ModelProto, calib: np.ndarray, batch: int) -> None:
        exposed = onnx.ModelProto()
        exposed.CopyFrom(model)
        known = {o.name for o in exposed.graph.output}
        for node in exposed.graph.node:
            for name in node.output:
                if name and name not in known:
                    exposed.graph.output.append(onnx.ValueInfoProto(name=name))
                    known.add(name)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        options.log_severity_level = 3
        try:
            session = ort.InferenceSession(
                exposed.SerializeToString(), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ConversionError(f"onnxruntime cannot load the model: {exc}") from None
        inputs = session.get_inputs()
        if len(inputs) != 1:
            raise ConversionError(f"the model must have exactly one input, it has {len(inputs)}")
        names = [o.name for o in session.get_outputs()]
        self.lo: dict[str, float] = {}
        self.hi: dict[str, float] = {}
        self.shape: dict[str, tuple[int, ...]] = {}
        self.values: dict[str, np.ndarray] = {}
        self.input_name = inputs[0].name
        calib = calib.astype(np.float32)
        for start in range(0, len(calib), batch):
            chunk = calib[start : start + batch]
            try:
                outs = session.run(names, {self.input_name: chunk})
            except Exception as exc:
                raise ConversionError(f"onnxruntime failed on the calibration data: {exc}") from None
            for name, out in zip([self.input_name, *names], [chunk, *outs], strict=True):
                if start == 0:
                    self.values[name] = out
                    self.shape[name] = out.shape[1:] if out.ndim and out.shape[0] == len(chunk) else ()
                if np.issubdtype(out.dtype, np.floating) and out.size:
                    self.lo[name] = min(self.lo.get(name, 0.0), float(out.min()))
                    self.hi[name] = max(self.hi.get(name, 0.0), float(out.max()))


class _Builder:
    """Turns ONNX nodes into the float IR (with fusions), then the IR into integer ops."""

    def __init__(self, model: onnx.ModelProto, cal: _Calibration) -> None:
        self.graph = model.graph
        self.cal = cal
        self.consts: dict[str, np.ndarray] = {
            i.name: numpy_helper.to_array(i) for i in self.graph.initializer
        }
        self.live: dict[str, IrOp | None] = {cal.input_name: None}  # tensor -> producing IR op
        self.ir: list[IrOp] = []
        self.alias_of: dict[str, str] = {}  # Identity / Dropout output -> its input
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
        self.uses = Counter(n for node in self.graph.node for n in node.input if n)
        self.uses.update(o.name for o in self.graph.output)

    def const(self, name: str) -> np.ndarray | None:
        return self.consts.get(name) if name else None

    def build(self) -> None:
        for node in self.graph.node:
            if not any(n in self.live for n in node.input):
                for name in node.output:  # input-independent: take onnxruntime's value
                    if name in self.cal.values:
                        self.consts[name] = self.cal.values[name]
                continue
            node = self.resolve(node)
            self.add_node(node, [n for n in node.input if n in self.live])

    def fusable(self, name: str) -> IrOp | None:
        """The linear IR op producing `name`, if nothing else reads `name` and nothing is fused after it."""
        op = self.live.get(name)
        if op and op.kind in ("fc", "conv", "convt") and op.act is None and self.uses[name] == 1:
            return op
        return None

    def rename(self, op: IrOp, node: onnx.NodeProto) -> None:
        del self.live[op.output]
        op.output = node.output[0]
        self.live[op.output] = op

    def emit(self, kind: str, node: onnx.NodeProto, inputs: list[str], **kw) -> IrOp:
        op = IrOp(kind, inputs, node.output[0], node, **kw)
        self.ir.append(op)
        self.live[op.output] = op
        return op

    def add_node(self, node: onnx.NodeProto, live_inputs: list[str]) -> None:
        t, a, x = node.op_type, _attrs(node), node.input[0]
        if t in PASSTHROUGH:
            self.alias_of[node.output[0]] = x
            self.live[node.output[0]] = self.live[x]
            self.uses[x] += self.uses[node.output[0]] - 1
        elif t in ("Shape", "Size"):  # shape arithmetic (e.g. x.view(x.size(0), -1)): only feeds Reshape
            for name in node.output:
                self.consts[name] = self.cal.values[name]
        elif t == "Gemm":
            w = self.const(node.input[1])
            if x not in self.live or w is None or a.get("transA", 0):
                raise ConversionError(f"{_label(node)}: only x @ W(+C) with a constant W is supported")
            w = (w if a.get("transB", 0) else w.T) * a.get("alpha", 1.0)
            c = self.const(node.input[2]) if len(node.input) > 2 else None
            if c is not None and c.size not in (1, w.shape[0]):
                raise ConversionError(f"{_label(node)}: C must be a per-output-channel constant")
            b = np.zeros(w.shape[0]) if c is None else np.broadcast_to(c.reshape(-1), w.shape[:1])
            self.emit("fc", node, [x], weight=w, bias=np.array(b, np.float64) * a.get("beta", 1.0))
        elif t == "MatMul" and self.const(node.input[1]) is not None and self.const(node.input[1]).ndim == 2:
            w = self.const(node.input[1]).T
            self.emit("fc", node, [x], weight=w, bias=np.zeros(w.shape[0]))
        elif t in ("Add", "Sub") and len(live_inputs) == 1 and self.fold_bias(node, live_inputs[0]):
            pass
        elif t == "BatchNormalization" and self.fusable(x):
            self.fold_batchnorm(node, self.fusable(x), a)
        elif t in ("Relu", "Clip") and self.fusable(x):
            lo, hi = (0.0, math.inf) if t == "Relu" else self.clip_range(node, a)
            op = self.fusable(x)
            op.act = (lo, hi)
            self.rename(op, node)
        elif t in ("Conv", "ConvTranspose"):
            self.add_conv(node, a)
        elif t == "BatchNormalization":
            self.add_batchnorm(node, a)
        elif (
            t in UNARY_OPS
            and len(live_inputs) == 1
            and all(
                n in self.live or (n == "" or (self.const(n) is not None and self.const(n).size == 1))
                for n in node.input
            )
        ):
            self.emit("lut", node, [live_inputs[0]])
        elif t in ("Add", "Mul") and len(live_inputs) == 2 and len(node.input) == 2:
            self.emit(t.lower(), node, list(node.input))
        elif t in ("MaxPool", "AveragePool"):
            self.emit("pool", node, [x], attrs={**a, "pads": self.pads(node, a, a["kernel_shape"])})
        elif t in ("GlobalAveragePool", "GlobalMaxPool"):
            self.emit("pool", node, [x], attrs=a)
        elif t in RESHAPES:
            self.emit("reshape", node, [x])
        elif t == "Transpose":
            perm = list(a.get("perm", []))
            if not perm or perm[0] != 0:
                raise ConversionError(f"{_label(node)}: the batch axis must stay first (perm {perm})")
            self.emit("transpose", node, [x], attrs={"perm": tuple(p - 1 for p in perm[1:])})
        elif t == "Concat" and len(live_inputs) == len(node.input):
            self.emit("concat", node, list(node.input), attrs={"axis": self.sample_axis(node, a["axis"])})
        elif t == "Softmax" and self.opset < 13 and len(self.cal.shape[x]) != 1:
            raise ConversionError(f"{_label(node)}: opset < 13 Softmax is only supported on (N, K) inputs")
        elif t in ("Softmax", "ArgMax"):
            default = -1 if t == "Softmax" else 0
            attrs = {
                "axis": self.sample_axis(node, a.get("axis", default)),
                "keepdims": bool(a.get("keepdims", 1)),
            }
            if a.get("select_last_index", 0):
                raise ConversionError(f"{_label(node)}: select_last_index is not supported")
            self.emit(t.lower(), node, [x], attrs=attrs)
        else:
            raise ConversionError(f"unsupported operator: {_label(node)} (op type {t!r})")

    def resolve(self, node: onnx.NodeProto) -> onnx.NodeProto:
        """The node with inputs read through Identity/Dropout aliases."""
        if not any(n in self.alias_of for n in node.input):
            return node
        copy = onnx.NodeProto()
        copy.CopyFrom(node)
        copy.input[:] = [self.alias_of.get(n, n) for n in node.input]
        return copy

    def sample_axis(self, node: onnx.NodeProto, axis: int) -> int:
        rank = len(self.cal.shape[node.input[0]]) + 1
        axis = axis + rank if axis < 0 else axis
        if not 1 <= axis < rank:
            raise ConversionError(f"{_label(node)}: axis {axis} must not be the batch axis")
        return axis - 1

    def pads(self, node: onnx.NodeProto, a: dict, kernel: tuple[int, ...]) -> tuple[int, int, int, int]:
        """Explicit (top, left, bottom, right) pads, resolving auto_pad SAME_UPPER / SAME_LOWER."""
        mode = _auto_pad(a)
        if mode in ("NOTSET", "VALID"):
            pads = tuple(a.get("pads", (0, 0, 0, 0))) if mode == "NOTSET" else (0, 0, 0, 0)
            if len(pads) != 4:
                raise ConversionError(f"{_label(node)}: only 2-D windows are supported")
            return pads
        begin, end = [], []
        for size, k, s, d in zip(
            self.cal.shape[node.input[0]][1:],
            kernel,
            a.get("strides", (1, 1)),
            a.get("dilations", (1, 1)),
            strict=True,
        ):
            total = max((-(-size // s) - 1) * s + (k - 1) * d + 1 - size, 0)
            small, big = total // 2, total - total // 2
            begin.append(small if mode == "SAME_UPPER" else big)
            end.append(big if mode == "SAME_UPPER" else small)
        return (begin[0], begin[1], end[0], end[1])

    def clip_range(self, node: onnx.NodeProto, a: dict) -> tuple[float, float]:
        lo = self.const(node.input[1]) if len(node.input) > 1 else None
        hi = self.const(node.input[2]) if len(node.input) > 2 else None
        return (
            float(lo) if lo is not None and lo.size else a.get("min", -math.inf),
            float(hi) if hi is not None and hi.size else a.get("max", math.inf),
        )

    def fold_bias(self, node: onnx.NodeProto, live: str) -> bool:
        """x + c (or x - c) right after a linear op with c per output channel: add c to its bias."""
        op = self.fusable(live)
        other = node.input[1] if node.input[0] == live else node.input[0]
        c = self.const(other)
        if op is None or c is None or (node.op_type == "Sub" and other == node.input[0]):
            return False
        channels = op.bias.shape[0]
        c = np.asarray(c, np.float64)
        squeezed = c.reshape(-1) if c.size in (1, channels) else None
        if squeezed is None:
            return False
        if op.kind != "fc" and c.size == channels and c.ndim >= 3 and c.shape[-3] != channels:
            return False
        op.bias = op.bias + (squeezed if node.op_type == "Add" else -squeezed)
        self.rename(op, node)
        return True

    def fold_batchnorm(self, node: onnx.NodeProto, op: IrOp, a: dict) -> None:
        gamma, beta, mean, var = (np.asarray(self.const(n), np.float64) for n in node.input[1:5])
        k = gamma / np.sqrt(var + a.get("epsilon", 1e-5))
        op.weight = op.weight * k.reshape((-1,) + (1,) * (op.weight.ndim - 1))
        op.bias = (op.bias - mean) * k + beta
        self.rename(op, node)

    def add_batchnorm(self, node: onnx.NodeProto, a: dict) -> None:
        """A BatchNormalization with nothing to fold into: a depthwise 1x1 conv."""
        gamma, beta, mean, var = (np.asarray(self.const(n), np.float64) for n in node.input[1:5])
        k = gamma / np.sqrt(var + a.get("epsilon", 1e-5))
        if len(self.cal.shape[node.input[0]]) != 3:
            raise ConversionError(f"{_label(node)}: standalone BatchNormalization needs a (C, H, W) input")
        attrs = {"group": len(k), "strides": (1, 1), "dilations": (1, 1), "pads": (0, 0, 0, 0)}
        self.emit(
            "conv", node, [node.input[0]], weight=k.reshape(-1, 1, 1, 1), bias=beta - mean * k, attrs=attrs
        )

    def add_conv(self, node: onnx.NodeProto, a: dict) -> None:
        w = self.const(node.input[1])
        if w is None or w.ndim != 4:
            raise ConversionError(
                f"{_label(node)}: only 2-D convolutions with constant weights are supported"
            )
        if node.op_type == "ConvTranspose" and _auto_pad(a) not in ("NOTSET", "VALID"):
            raise ConversionError(f"{_label(node)}: auto_pad {_auto_pad(a)} is not supported; export pads")
        c = self.const(node.input[2]) if len(node.input) > 2 else None
        group = a.get("group", 1)
        cout = w.shape[0] if node.op_type == "Conv" else w.shape[1] * group
        attrs = {
            "group": group,
            "strides": tuple(a.get("strides", (1, 1))),
            "dilations": tuple(a.get("dilations", (1, 1))),
            "pads": self.pads(node, a, w.shape[2:]),
            "output_padding": tuple(a.get("output_padding", (0, 0))),
        }
        kind = "conv" if node.op_type == "Conv" else "convt"
        self.emit(
            kind,
            node,
            [node.input[0]],
            weight=np.asarray(w if kind == "conv" else _swap_group_axes(w, group), np.float64),
            bias=np.zeros(cout) if c is None else np.asarray(c, np.float64),
            attrs=attrs,
        )


class _Quantizer:
    """The float IR -> integer ops, in order."""

    def __init__(self, cal: _Calibration, consts: dict[str, np.ndarray], opsets: list) -> None:
        self.cal, self.consts, self.opsets = cal, consts, opsets
        self.index: dict[str, int] = {}
        self.values: list[Value] = []
        self.ops: list[Op] = []

    def qparams(self, name: str) -> tuple[float, int]:
        return choose_qparams(self.cal.lo.get(name, 0.0), self.cal.hi.get(name, 0.0))

    def add_value(self, name: str, value: Value) -> None:
        self.index[name] = len(self.values)
        self.values.append(value)

    def push(self, name: str, op_type: type[Op], inputs: list[str], **fields) -> None:
        idx = tuple(self.index[n] for n in inputs)
        try:
            op = op_type(idx, [self.values[i] for i in idx], **fields)
        except ValueError as exc:
            raise ConversionError(f"cannot convert the op producing {name!r}: {exc}") from None
        self.ops.append(op)
        self.add_value(name, op.out)

    def clamp(self, act: tuple[float, float] | None, scale: float, zp: int) -> tuple[int, int]:
        if act is None:
            return INT8_MIN, INT8_MAX
        lo, hi = (
            int(np.clip(np.rint(v / scale) + zp, INT8_MIN, INT8_MAX))
            if math.isfinite(v)
            else (INT8_MIN if v < 0 else INT8_MAX)
            for v in act
        )
        return lo, hi

    def geometry(self, op: IrOp, kernel: tuple[int, int], dilated: bool = True) -> Geometry:
        pads = tuple(op.attrs.get("pads", (0, 0, 0, 0)))
        return Geometry(
            tuple(kernel),
            tuple(op.attrs.get("strides", (1, 1))),
            tuple(op.attrs.get("dilations", (1, 1))) if dilated else (1, 1),
            pads,
        )

    def add(self, op: IrOp) -> None:
        name, kind = op.output, op.kind
        x = self.values[self.index[op.inputs[0]]]
        label = _label(op.node)
        if kind in ("fc", "conv", "convt"):
            scale, zp = self.qparams(name)
            clamp = self.clamp(op.act, scale, zp)
            w, b, rq = quantize_weights(op.weight, op.bias, x.scale, scale, zp, clamp, label)
            if kind == "fc":
                self.push(name, FullyConnected, op.inputs, weight=w, bias=b, requant=rq)
                return
            geometry = self.geometry(op, w.shape[2:])
            if kind == "conv":
                self.push(
                    name,
                    Conv,
                    op.inputs,
                    weight=w,
                    bias=b,
                    groups=op.attrs["group"],
                    geometry=geometry,
                    requant=rq,
                )
            else:
                self.push(
                    name,
                    ConvTranspose,
                    op.inputs,
                    weight=_swap_group_axes(w, op.attrs["group"]),
                    bias=b,
                    groups=op.attrs["group"],
                    geometry=geometry,
                    output_padding=op.attrs["output_padding"],
                    requant=rq,
                )
        elif kind == "lut":
            scale, zp = self.qparams(name)
            self.push(
                name,
                Lookup,
                op.inputs,
                scale=scale,
                zero_point=zp,
                table=quantize(self.evaluate(op, x), scale, zp),
            )
        elif kind == "add":
            scale, zp = self.qparams(name)
            a, b = (self.values[self.index[n]] for n in op.inputs)
            big = max(a.scale, b.scale) / scale
            m, shift = multiplier(big, label)
            ms = tuple(
                m if s == max(a.scale, b.scale) else round(s / scale * 2**shift) for s in (a.scale, b.scale)
            )
            if max(ms) < M_MIN:
                raise ConversionError(f"{label}: cannot represent the input scales")
            self.push(
                name,
                Add,
                op.inputs,
                scale=scale,
                zero_point=zp,
                lo=INT8_MIN,
                hi=INT8_MAX,
                multipliers=ms,
                shift=shift,
            )
        elif kind == "mul":
            scale, zp = self.qparams(name)
            a, b = (self.values[self.index[n]] for n in op.inputs)
            m, shift = multiplier(a.scale * b.scale / scale, label)
            self.push(
                name,
                Mul,
                op.inputs,
                requant=Requant(
                    scale, zp, INT8_MIN, INT8_MAX, np.array([m], np.uint32), np.array([shift], np.uint8)
                ),
            )
        elif kind == "pool":
            self.add_pool(op, x)
        elif kind == "reshape":
            self.push(name, Reshape, op.inputs, shape=self.cal.shape[name] or (1,))
        elif kind == "transpose":
            self.push(name, Transpose, op.inputs, perm=op.attrs["perm"])
        elif kind == "concat":
            scale, zp = self.qparams(name)
            ms = [multiplier(self.values[self.index[n]].scale / scale, label) for n in op.inputs]
            self.push(
                name,
                Concat,
                op.inputs,
                axis=op.attrs["axis"],
                requant=Requant(
                    scale,
                    zp,
                    INT8_MIN,
                    INT8_MAX,
                    np.array([m for m, _ in ms], np.uint32),
                    np.array([s for _, s in ms], np.uint8),
                ),
            )
        elif kind == "softmax":
            self.push(name, Softmax, op.inputs, axis=op.attrs["axis"], table=softmax_table(x.scale))
        else:
            self.push(name, ArgMax, op.inputs, axis=op.attrs["axis"], keepdims=op.attrs["keepdims"])

    def add_pool(self, op: IrOp, x: Value) -> None:
        t, a, name = op.node.op_type, op.attrs, op.output
        if t.startswith("Global"):
            op.attrs = {}
            kernel = x.shape[1:]
        else:
            kernel = tuple(a["kernel_shape"])
        if t in ("MaxPool", "GlobalMaxPool"):
            self.push(name, MaxPool, op.inputs, geometry=self.geometry(op, kernel))
        else:
            self.push(
                name,
                AvgPool,
                op.inputs,
                geometry=self.geometry(op, kernel, dilated=False),
                count_include_pad=bool(a.get("count_include_pad", 0)),
            )
        if self.values[-1].shape != self.cal.shape[name]:
            raise ConversionError(
                f"{_label(op.node)}: output shape {self.cal.shape[name]} not reproduced "
                f"(ceil_mode is not supported)"
            )

    def evaluate(self, op: IrOp, x: Value) -> np.ndarray:
        """f(real value of each int8 code), computed by onnxruntime on a one-node graph."""
        node = op.node
        grid = ((np.arange(256) - 128 - x.zero_point) * x.scale).astype(np.float32)
        live = op.inputs[0]
        inits = [
            numpy_helper.from_array(np.asarray(self.consts[n]), n) for n in node.input if n and n != live
        ]
        graph = helper.make_graph(
            [node],
            "lut",
            [helper.make_tensor_value_info(live, onnx.TensorProto.FLOAT, [256])],
            [onnx.ValueInfoProto(name=node.output[0])],
            inits,
        )
        model = helper.make_model(graph, opset_imports=self.opsets)
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        return session.run(None, {live: grid})[0].astype(np.float64)


def convert(model: onnx.ModelProto | str | Path, calib: np.ndarray, *, batch: int = 256) -> Model:
    """Quantize a float ONNX model (one input, one output, batch on axis 0) with calibration inputs."""
    if not isinstance(model, onnx.ModelProto):
        try:
            model = onnx.load(str(model))
        except (OSError, DecodeError) as exc:
            raise ConversionError(f"cannot read ONNX model {model}: {exc}") from None
    calib = np.asarray(calib)
    if calib.ndim < 2 or not len(calib) or not np.issubdtype(calib.dtype, np.number):
        raise ConversionError(f"calibration data must be a numeric batch (N, ...), got {calib.shape}")
    if len(model.graph.output) != 1:
        raise ConversionError(f"the model must have exactly one output, it has {len(model.graph.output)}")
    cal = _Calibration(model, calib, batch)
    builder = _Builder(model, cal)
    builder.build()
    out_name = builder.alias_of.get(model.graph.output[0].name, model.graph.output[0].name)
    if not builder.ir or builder.ir[-1].output != out_name:
        raise ConversionError(f"the graph output {out_name!r} is not produced by the last convertible op")
    q = _Quantizer(cal, builder.consts, list(model.opset_import))
    scale, zp = choose_qparams(cal.lo[cal.input_name], cal.hi[cal.input_name])
    q.add_value(cal.input_name, Value(cal.shape[cal.input_name], scale, zp))
    for op in builder.ir:
        q.add(op)
    return Model(q.values[0], q.ops)

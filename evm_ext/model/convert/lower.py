"""Stage 3: the normalised ONNX graph -> the float IR, in graph order, by a table of op-type handlers.

Fusions (what the integer engine does in one op): a bias Add/Sub, a BatchNormalization and a ReLU/Clip
(as a clamp) right after a linear op whose output nothing else reads are folded into it. Input-independent
nodes are not lowered: their values (from calibration) become constants. Ops the engine has no kind for
are expressed with kinds it has, exactly:
- Resize/Upsample (nearest, integer scales) -> a depthwise ConvTranspose with kernel = stride = scale and
  all-ones weights (each output position receives exactly one input);
- a zero Pad of H and W read only by a Conv or an AveragePool that counts pads -> that op's pads;
  read by anything else -> a depthwise 1x1 Conv with all-ones weights and those pads;
- BatchNormalization, or Add/Sub/Mul/Div of a per-channel constant, with nothing to fold into -> a
  per-channel affine: a depthwise 1x1 Conv (C, H, W) or a diagonal fully connected layer (C,);
- ReduceMean over H and W -> a global AvgPool (after a Transpose for NHWC);
- opset < 13 Softmax over several axes -> Reshape, Softmax, Reshape.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

from evm_ext.model.convert.calibrate import Calibration
from evm_ext.model.convert.graph import attrs, uses
from evm_ext.model.convert.ir import LINEAR_KINDS, IrKind, IrOp, label
from evm_ext.model.convert.support import UNARY_OPS, unsupported
from evm_ext.model.errors import ConversionError


class Lowering:
    """Turns ONNX nodes into the float IR (`ir`); `consts` holds every input-independent value."""

    def __init__(self, model: onnx.ModelProto, cal: Calibration) -> None:
        self.graph = model.graph
        self.cal = cal
        self.consts: dict[str, np.ndarray] = {
            i.name: numpy_helper.to_array(i) for i in self.graph.initializer
        }
        self.live: dict[str, IrOp | None] = {cal.input_name: None}  # tensor -> producing IR op
        self.ir: list[IrOp] = []
        self.opsets = list(model.opset_import)
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
        self.uses = uses(self.graph)
        self.readers: dict[str, list[onnx.NodeProto]] = {}
        for node in self.graph.node:
            for name in node.input:
                self.readers.setdefault(name, []).append(node)
        self.absorbed: dict[str, tuple[str, tuple[int, int, int, int]]] = {}  # Pad output -> (input, pads)

    def run(self) -> list[IrOp]:
        for node in self.graph.node:
            if not any(n in self.live for n in node.input):
                for name in node.output:  # input-independent: take onnxruntime's value
                    if name in self.cal.values:
                        self.consts[name] = self.cal.values[name]
                continue
            handler = HANDLERS.get(node.op_type)
            if handler is None:
                raise unsupported(node, HANDLERS)
            handler(self, node, attrs(node), [n for n in node.input if n in self.live])
        out = self.graph.output[0].name
        if not self.ir or self.ir[-1].output != out:
            raise ConversionError(f"the graph output {out!r} is not produced by the last convertible op")
        return self.ir

    # -- helpers -------------------------------------------------------------------------------------

    def const(self, name: str) -> np.ndarray | None:
        return self.consts.get(name) if name else None

    def scalar_inputs(self, node: onnx.NodeProto) -> bool:
        """Every input is live, absent, or an input-independent scalar."""
        return all(
            n in self.live or n == "" or (self.const(n) is not None and self.const(n).size == 1)
            for n in node.input
        )

    def fusable(self, name: str) -> IrOp | None:
        """The linear IR op producing `name`, if nothing else reads `name` and nothing is fused after it."""
        op = self.live.get(name)
        if op and op.kind in LINEAR_KINDS and op.act is None and self.uses[name] == 1:
            return op
        return None

    def rename(self, op: IrOp, node: onnx.NodeProto) -> None:
        del self.live[op.output]
        op.output = node.output[0]
        self.live[op.output] = op

    def emit(self, kind: IrKind, node: onnx.NodeProto, inputs: list[str], output: str = "", **kw) -> IrOp:
        op = IrOp(kind, inputs, output or node.output[0], node, **kw)
        self.ir.append(op)
        self.live[op.output] = op
        return op

    def sample_shape(self, name: str) -> tuple[int, ...]:
        return tuple(self.cal.shape[name])

    def sample_axis(self, node: onnx.NodeProto, axis: int) -> int:
        rank = len(self.cal.shape[node.input[0]]) + 1
        axis = axis + rank if axis < 0 else axis
        if not 1 <= axis < rank:
            raise ConversionError(
                f"{label(node)}: axis {axis} is the batch axis "
                f"(nearest supported: the same op over a per-sample axis)"
            )
        return axis - 1

    def pads(self, node: onnx.NodeProto, a: dict, kernel: tuple[int, ...]) -> tuple[int, int, int, int]:
        """Explicit (top, left, bottom, right) pads, resolving auto_pad SAME_UPPER / SAME_LOWER."""
        mode = a.get("auto_pad", "NOTSET")
        if mode in ("NOTSET", "VALID"):
            pads = tuple(a.get("pads", (0, 0, 0, 0))) if mode == "NOTSET" else (0, 0, 0, 0)
            if len(pads) != 4:
                raise ConversionError(
                    f"{label(node)}: only 2-D windows are supported "
                    f"(nearest supported: the 2-D op on (C, 1, L))"
                )
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

    def depthwise_identity(self, node: onnx.NodeProto, kernel: tuple[int, int]) -> np.ndarray:
        """All-ones depthwise weights (C, 1, kh, kw) for the channels of the node's input."""
        shape = self.sample_shape(node.input[0])
        if len(shape) != 3:
            raise ConversionError(f"{label(node)}: needs a (C, H, W) input, got per-sample shape {shape}")
        return np.ones((shape[0], 1, *kernel))

    # -- handlers ------------------------------------------------------------------------------------

    def gemm(self, node: onnx.NodeProto, a: dict, live: list[str]) -> None:
        x, w = node.input[0], self.const(node.input[1])
        if a.get("transA", 0):
            raise ConversionError(
                f"{label(node)}: transA=1 on an activation puts the batch on axis 1; "
                f"export x @ W (transA=0), or transpose with perm [1, 0] right before it"
            )
        if x not in self.live or w is None:
            raise ConversionError(
                f"{label(node)}: only x @ W(+C) with a constant W is supported "
                f"(nearest supported: Gemm with its weight as an initializer)"
            )
        w = (w if a.get("transB", 0) else w.T) * a.get("alpha", 1.0)
        c = self.const(node.input[2]) if len(node.input) > 2 else None
        if c is not None and c.size not in (1, w.shape[0]):
            raise ConversionError(
                f"{label(node)}: C must be a per-output-channel constant "
                f"(nearest supported: C of shape (N_out,) or a scalar)"
            )
        b = np.zeros(w.shape[0]) if c is None else np.broadcast_to(c.reshape(-1), w.shape[:1])
        self.emit(
            IrKind.FULLY_CONNECTED, node, [x], weight=w, bias=np.array(b, np.float64) * a.get("beta", 1.0)
        )

    def matmul(self, node: onnx.NodeProto, a: dict, live: list[str]) -> None:
        w = self.const(node.input[1])
        if node.input[0] not in self.live or w is None or w.ndim != 2:
            raise ConversionError(
                f"{label(node)}: only x @ W with a constant 2-D W is supported "
                f"(nearest supported: Gemm / MatMul with a constant weight)"
            )
        self.emit(IrKind.FULLY_CONNECTED, node, [node.input[0]], weight=w.T, bias=np.zeros(w.shape[1]))

    def binary(self, node: onnx.NodeProto, a: dict, live: list[str]) -> None:
        t = node.op_type
        if t in ("Add", "Sub") and len(live) == 1 and self.fold_bias(node, live[0]):
            return
        if t in ("Mul", "Div") and len(live) == 1 and self.fold_scale(node, live[0]):
            return
        if t in UNARY_OPS and len(live) == 1 and self.scalar_inputs(node):
            self.emit(IrKind.LOOKUP, node, live)
        elif t in ("Add", "Mul") and len(live) == 2 and len(node.input) == 2:
            self.emit(IrKind.ADD if t == "Add" else IrKind.MUL, node, list(node.input))
        elif len(live) == 2:
            raise ConversionError(
                f"unsupported operator: {label(node)}: {t} of two activations "
                f"(nearest supported: Add, or Mul, of two activations; x - y as x + (-1 * y))"
            )
        elif not self.channel_affine(node, live[0]):
            raise ConversionError(
                f"unsupported operator: {label(node)}: {t} of an activation and a constant that is neither a "
                f"scalar nor one value per channel (nearest supported: a per-channel or scalar {t})"
            )

    def channel_affine(self, node: onnx.NodeProto, live: str) -> bool:
        """x + c, x - c, c - x, x * c, x / c with c per channel: a standalone per-channel affine."""
        first = node.input[0] == live
        c = self.per_channel(live, self.const(node.input[1] if first else node.input[0]))
        if c is None or (node.op_type == "Div" and not first):
            return False
        ones = np.ones_like(c)
        k, b = {
            "Add": (ones, c),
            "Sub": (ones, -c) if first else (-ones, c),
            "Mul": (c, 0 * c),
            "Div": (1.0 / c, 0 * c),
        }[node.op_type]
        self.affine(node, live, k, b)
        return True

    def affine(self, node: onnx.NodeProto, x: str, k: np.ndarray, b: np.ndarray) -> None:
        """y[c] = k[c] * x[c] + b[c]: a diagonal fully connected layer on (C,), a depthwise 1x1 conv on
        (C, H, W)."""
        if len(self.sample_shape(x)) == 1:
            self.emit(IrKind.FULLY_CONNECTED, node, [x], weight=np.diag(k), bias=b)
            return
        self.emit(
            IrKind.CONV,
            node,
            [x],
            weight=k.reshape(-1, 1, 1, 1),
            bias=b,
            attrs={"group": len(k), "strides": (1, 1), "dilations": (1, 1), "pads": (0, 0, 0, 0)},
        )

    def unary(self, node: onnx.NodeProto, a: dict, live: list[str]) -> None:
        if len(live) != 1 or not self.scalar_inputs(node):
            raise ConversionError(
                f"unsupported operator: {label(node)}: its other inputs must be input-independent scalars "
                f"(nearest supported: {node.op_type} with scalar constant operands)"
            )
        self.emit(IrKind.LOOKUP, node, live)

    def activation(self, node: onnx.NodeProto, a: dict, live: list[str]) -> None:
        op = self.fusable(node.input[0])
        if op is None:
            self.unary(node, a, live)
            return
        op.act = (0.0, math.inf) if node.op_type == "Relu" else self.clip_range(node, a)
        self.rename(op, node)

    def fold_bias(self, node: onnx.NodeProto, live: str) -> bool:
        """x + c (or x - c) right after a linear op with c per output channel: add c to its bias."""
        op = self.fusable(live)
        other = node.input[1] if node.input[0] == live else node.input[0]
        c = self.const(other)
        if op is None or c is None or (node.op_type == "Sub" and other == node.input[0]):
            return False
        squeezed = self.per_channel(live, c)
        if squeezed is None:
            return False
        op.bias = op.bias + (squeezed if node.op_type == "Add" else -squeezed)
        self.rename(op, node)
        return True

    def per_channel(self, live: str, c: np.ndarray) -> np.ndarray | None:
        """A constant broadcast against tensor `live` ((C,) or (C, H, W) per sample) as one value per
        channel (C,), else None."""
        shape = self.sample_shape(live)
        channels = shape[0] if len(shape) in (1, 3) else 0
        c = np.asarray(c, np.float64)
        if not channels or c.size not in (1, channels):
            return None
        if c.size == channels > 1 and (c.ndim < len(shape) or c.shape[-len(shape)] != channels):
            return None
        return np.broadcast_to(c.reshape(-1), (channels,))

    def fold_scale(self, node: onnx.NodeProto, live: str) -> bool:
        """x * c (or x / c) right after a linear op with c per output channel: scale its weights and bias."""
        op = self.fusable(live)
        other = node.input[1] if node.input[0] == live else node.input[0]
        c = self.const(other)
        if op is None or c is None or (node.op_type == "Div" and other == node.input[0]):
            return False
        k = self.per_channel(live, c)
        if k is None:
            return False
        k = k if node.op_type == "Mul" else 1.0 / k
        op.weight = op.weight * k.reshape((-1,) + (1,) * (op.weight.ndim - 1))
        op.bias = op.bias * k
        self.rename(op, node)
        return True

    def batchnorm(self, node: onnx.NodeProto, a: dict, live: list[str]) -> None:
        gamma, beta, mean, var = (np.asarray(self.const(n), np.float64) for n in node.input[1:5])
        k = gamma / np.sqrt(var + a.get("epsilon", 1e-5))
        op = self.fusable(node.input[0])
        if op is not None:
            op.weight = op.weight * k.reshape((-1,) + (1,) * (op.weight.ndim - 1))
            op.bias = (op.bias - mean) * k + beta
            self.rename(op, node)
            return
        if len(self.sample_shape(node.input[0])) not in (1, 3):
            raise ConversionError(
                f"{label(node)}: standalone BatchNormalization needs a (C,) or (C, H, W) input, got "
                f"{self.sample_shape(node.input[0])} "
                f"(nearest supported: BatchNormalization after a Conv or Gemm)"
            )
        self.affine(node, node.input[0], k, beta - mean * k)

    def conv(self, node: onnx.NodeProto, a: dict, live: list[str]) -> None:
        w = self.const(node.input[1])
        if w is None or w.ndim != 4:
            raise ConversionError(
                f"{label(node)}: only 2-D convolutions with constant weights are supported "
                f"(nearest supported: Conv2d with its weight as an initializer; a 1-D conv as a 1xk Conv2d)"
            )
        auto_pad = a.get("auto_pad", "NOTSET")
        if node.op_type == "ConvTranspose" and auto_pad not in ("NOTSET", "VALID"):
            raise ConversionError(
                f"{label(node)}: auto_pad {auto_pad} is not supported (nearest supported: explicit pads)"
            )
        c = self.const(node.input[2]) if len(node.input) > 2 else None
        group = a.get("group", 1)
        cout = w.shape[0] if node.op_type == "Conv" else w.shape[1] * group
        attrs_ = {
            "group": group,
            "strides": tuple(a.get("strides", (1, 1))),
            "dilations": tuple(a.get("dilations", (1, 1))),
            "pads": self.pads(node, a, w.shape[2:]),
            "output_padding": tuple(a.get("output_padding", (0, 0))),
        }
        x = self.unpad(node, attrs_)
        conv = node.op_type == "Conv"
        self.emit(
            IrKind.CONV if conv else IrKind.CONV_TRANSPOSE,
            node,
            [x],
            weight=np.asarray(w if conv else swap_group_axes(w, group), np.float64),
            bias=np.zeros(cout) if c is None else np.asarray(c, np.float64),
            attrs=attrs_,
        )

    def pool(self, node: onnx.NodeProto, a: dict, live: list[str]) -> None:
        kernel = tuple(a["kernel_shape"])
        geometry = {
            "kernel": kernel,
            "strides": tuple(a.get("strides", (1, 1))),
            "dilations": tuple(a.get("dilations", (1, 1))),
            "pads": self.pads(node, a, kernel),
        }
        if node.op_type == "MaxPool":
            self.emit(IrKind.MAX_POOL, node, [node.input[0]], attrs=geometry)
        else:
            geometry["count_include_pad"] = bool(a.get("count_include_pad", 0))
            self.emit(IrKind.AVG_POOL, node, [self.unpad(node, geometry)], attrs=geometry)

    def global_pool(self, node: onnx.NodeProto, a: dict, live: list[str]) -> None:
        shape = self.sample_shape(node.input[0])
        if len(shape) != 3:
            raise ConversionError(f"{label(node)}: needs a (C, H, W) input, got per-sample shape {shape}")
        kind = IrKind.MAX_POOL if node.op_type == "GlobalMaxPool" else IrKind.AVG_POOL
        geometry = {"kernel": shape[1:], "count_include_pad": False}
        self.emit(kind, node, [node.input[0]], attrs=geometry)

    def reduce_mean(self, node: onnx.NodeProto, a: dict, live: list[str]) -> None:
        """ReduceMean over the spatial axes of (C, H, W) or (H, W, C): a global average pool."""
        x, out = node.input[0], node.output[0]
        shape = self.sample_shape(x)
        axes = a.get("axes")
        if axes is None and len(node.input) > 1 and node.input[1]:
            axes = self.const(node.input[1])
        axes = (
            sorted(self.sample_axis(node, int(v)) for v in np.asarray(axes).reshape(-1))
            if axes is not None
            else None
        )
        if len(shape) != 3 or axes not in ([1, 2], [0, 1]):
            raise ConversionError(
                f"unsupported operator: {label(node)}: only a mean over H and W of a (C, H, W) or (H, W, C) "
                f"tensor is supported (nearest supported: GlobalAveragePool)"
            )
        src = x
        if axes == [0, 1]:  # NHWC: channels first, then pool
            src = f"{out}/nchw"
            self.emit(IrKind.TRANSPOSE, node, [x], src, attrs={"perm": (2, 0, 1)})
            shape = (shape[2], shape[0], shape[1])
        pooled = out if a.get("keepdims", 1) and axes == [1, 2] else f"{out}/pooled"
        self.emit(
            IrKind.AVG_POOL, node, [src], pooled, attrs={"kernel": shape[1:], "count_include_pad": False}
        )
        if pooled != out:
            self.emit(IrKind.RESHAPE, node, [pooled], attrs={"shape": self.sample_shape(out) or (1,)})

    def reshape(self, node: onnx.NodeProto, a: dict, live: list[str]) -> None:
        self.emit(
            IrKind.RESHAPE, node, [node.input[0]], attrs={"shape": self.sample_shape(node.output[0]) or (1,)}
        )

    def flatten(self, node: onnx.NodeProto, a: dict, live: list[str]) -> None:
        """Flatten at axis <= 1 -> (size,); at axis k >= 2 -> (prod of axes 1..k-1, prod of the rest)."""
        shape = self.sample_shape(node.input[0])
        axis = a.get("axis", 1)
        axis = axis + len(shape) + 1 if axis < 0 else axis
        head = shape[: max(axis - 1, 0)]
        target = (math.prod(head), math.prod(shape[len(head) :])) if head else (math.prod(shape),)
        self.emit(IrKind.RESHAPE, node, [node.input[0]], attrs={"shape": target})

    def transpose(self, node: onnx.NodeProto, a: dict, live: list[str]) -> None:
        perm = list(a.get("perm", []))
        if not perm or perm[0] != 0:
            raise ConversionError(
                f"{label(node)}: the batch axis must stay first, perm is {perm} "
                f"(nearest supported: Transpose with perm[0] = 0)"
            )
        self.emit(IrKind.TRANSPOSE, node, [node.input[0]], attrs={"perm": tuple(p - 1 for p in perm[1:])})

    def concat(self, node: onnx.NodeProto, a: dict, live: list[str]) -> None:
        if len(live) != len(node.input):
            raise ConversionError(
                f"unsupported operator: {label(node)}: every input must be an activation "
                f"(nearest supported: Concat of activations; fold constants into the next layer's bias)"
            )
        self.emit(IrKind.CONCAT, node, list(node.input), attrs={"axis": self.sample_axis(node, a["axis"])})

    def softmax(self, node: onnx.NodeProto, a: dict, live: list[str]) -> None:
        x, out = node.input[0], node.output[0]
        shape = self.sample_shape(x)
        if self.opset >= 13 or len(shape) == 1:
            axis = self.sample_axis(node, a.get("axis", -1))
            self.emit(IrKind.SOFTMAX, node, [x], attrs={"axis": axis})
            return
        # opset < 13: softmax over the flattened axes [axis, rank) of (N, ...).
        head = shape[: self.sample_axis(node, a.get("axis", 1))]
        flat = (math.prod(head), math.prod(shape[len(head) :])) if head else (math.prod(shape),)
        self.emit(IrKind.RESHAPE, node, [x], f"{out}/flat", attrs={"shape": flat})
        self.emit(IrKind.SOFTMAX, node, [f"{out}/flat"], f"{out}/softmax", attrs={"axis": len(flat) - 1})
        self.emit(IrKind.RESHAPE, node, [f"{out}/softmax"], attrs={"shape": shape})

    def argmax(self, node: onnx.NodeProto, a: dict, live: list[str]) -> None:
        if a.get("select_last_index", 0):
            raise ConversionError(
                f"{label(node)}: select_last_index is not supported "
                f"(nearest supported: ArgMax with select_last_index=0)"
            )
        axis = self.sample_axis(node, a.get("axis", 0))
        self.emit(
            IrKind.ARGMAX, node, [node.input[0]], attrs={"axis": axis, "keepdims": bool(a.get("keepdims", 1))}
        )

    def shape_of(self, node: onnx.NodeProto, a: dict, live: list[str]) -> None:
        """Shape / Size of an activation (e.g. x.view(x.size(0), -1)): a constant that only feeds shapes."""
        for name in node.output:
            self.consts[name] = self.cal.values[name]

    def cast(self, node: onnx.NodeProto, a: dict, live: list[str]) -> None:
        to = onnx.TensorProto.DataType.Name(a.get("to", 0))
        raise ConversionError(
            f"unsupported operator: {label(node)}: casts an activation to {to}; activations stay real-valued "
            f"(nearest supported: a Cast to FLOAT, which is removed; export without the cast)"
        )

    def pad(self, node: onnx.NodeProto, a: dict, live: list[str]) -> None:
        """A zero Pad of H and W: absorbed by its one reader if that pads with real 0 itself (a Conv, an
        AveragePool that counts pads), else a depthwise 1x1 conv with those pads."""
        spatial = _spatial_pads(node, a, self.consts)
        if spatial is None:
            raise ConversionError(
                f"unsupported operator: {label(node)}: only a constant zero Pad of the H and W axes is "
                f"supported (nearest supported: the pads attribute of the next Conv or pool)"
            )
        readers = self.readers.get(node.output[0], [])
        if (
            self.uses[node.output[0]] == 1
            and len(readers) == 1
            and readers[0].input[0] == node.output[0]
            and (
                readers[0].op_type == "Conv"
                or (readers[0].op_type == "AveragePool" and attrs(readers[0]).get("count_include_pad", 0))
            )
        ):
            self.absorbed[node.output[0]] = (node.input[0], spatial)
            self.live[node.output[0]] = self.live[node.input[0]]
            return
        self.emit(
            IrKind.CONV,
            node,
            [node.input[0]],
            weight=self.depthwise_identity(node, (1, 1)),
            bias=np.zeros(self.sample_shape(node.input[0])[0]),
            attrs={
                "group": self.sample_shape(node.input[0])[0],
                "strides": (1, 1),
                "dilations": (1, 1),
                "pads": spatial,
            },
        )

    def unpad(self, node: onnx.NodeProto, geometry: dict) -> str:
        """The node's input before an absorbed Pad (whose pads are added to `geometry`), else its input."""
        x = node.input[0]
        if x not in self.absorbed:
            return x
        src, extra = self.absorbed[x]
        geometry["pads"] = tuple(p + e for p, e in zip(geometry["pads"], extra, strict=True))
        return src

    def resize(self, node: onnx.NodeProto, a: dict, live: list[str]) -> None:
        """Nearest-neighbour upsampling by integer factors: a depthwise ConvTranspose of ones."""
        x = node.input[0]
        shape = self.sample_shape(x)
        out = self.sample_shape(node.output[0])
        factors = tuple(o // i if i and o % i == 0 else 0 for o, i in zip(out[1:], shape[1:], strict=False))
        if (
            a.get("mode", "nearest") != "nearest"
            or len(shape) != 3
            or len(out) != 3
            or out[0] != shape[0]
            or min(factors, default=0) < 1
            or not self.repeats(node, factors)
        ):
            raise ConversionError(
                f"unsupported operator: {label(node)}: only nearest Resize/Upsample of H and W by integer "
                f"factors that repeat pixels is supported (nearest supported: Resize mode='nearest' with "
                f"integer scales, or ConvTranspose)"
            )
        self.emit(
            IrKind.CONV_TRANSPOSE,
            node,
            [x],
            weight=self.depthwise_identity(node, factors),
            bias=np.zeros(shape[0]),
            attrs={
                "group": shape[0],
                "strides": factors,
                "dilations": (1, 1),
                "pads": (0, 0, 0, 0),
                "output_padding": (0, 0),
            },
        )

    def repeats(self, node: onnx.NodeProto, factors: tuple[int, int]) -> bool:
        """The node, run by onnxruntime on a grid of distinct values, repeats each pixel factor times."""
        c, h, w = self.sample_shape(node.input[0])
        inits = [
            numpy_helper.from_array(np.asarray(self.consts[n]), n)
            for n in node.input[1:]
            if n and n in self.consts
        ]
        sizes = self.const(node.input[3]) if len(node.input) > 3 else None
        n = int(sizes.reshape(-1)[0]) if sizes is not None and sizes.size == 4 else 1  # sizes fix the batch
        grid = np.arange(n * c * h * w, dtype=np.float32).reshape(n, c, h, w)
        graph = helper.make_graph(
            [node],
            "resize",
            [helper.make_tensor_value_info(node.input[0], onnx.TensorProto.FLOAT, [n, c, h, w])],
            [onnx.ValueInfoProto(name=node.output[0])],
            inits,
        )
        session = ort.InferenceSession(
            helper.make_model(graph, opset_imports=self.opsets).SerializeToString(),
            providers=["CPUExecutionProvider"],
        )
        got = session.run(None, {node.input[0]: grid})[0]
        want = grid.repeat(factors[0], axis=2).repeat(factors[1], axis=3)
        return got.shape == want.shape and bool(np.array_equal(got, want))


def _spatial_pads(
    node: onnx.NodeProto, a: dict, consts: dict[str, np.ndarray]
) -> tuple[int, int, int, int] | None:
    """(top, left, bottom, right) of a constant zero Pad of the H and W axes of (N, C, H, W), else None.

    Pads and value are attributes before opset 11 and inputs from 11 on (an `axes` input is refused)."""
    if "pads" in a:
        pads, value = np.asarray(a["pads"]), a.get("value", 0.0)
    else:
        pads = consts.get(node.input[1]) if len(node.input) > 1 else None
        value = consts.get(node.input[2]) if len(node.input) > 2 and node.input[2] else 0.0
        if len(node.input) > 3 and node.input[3]:
            return None
    if a.get("mode", "constant") != "constant" or pads is None or np.asarray(pads).size != 8:
        return None
    p = [int(v) for v in np.asarray(pads).reshape(-1)]
    if min(p) < 0 or p[0] or p[1] or p[4] or p[5] or float(np.asarray(value).reshape(-1)[0]) != 0.0:
        return None
    return (p[2], p[3], p[6], p[7])


def swap_group_axes(w: np.ndarray, groups: int) -> np.ndarray:
    """ConvTranspose weight (Cin, Cout/G, kh, kw) <-> output-major (Cout, Cin/G, kh, kw); an involution."""
    a, b = w.shape[:2]
    return (
        w.reshape(groups, a // groups, b, *w.shape[2:])
        .swapaxes(1, 2)
        .reshape(groups * b, a // groups, *w.shape[2:])
    )


Handler = Callable[[Lowering, onnx.NodeProto, dict, list[str]], None]
HANDLERS: dict[str, Handler] = {
    **{t: Lowering.unary for t in UNARY_OPS},
    **{t: Lowering.binary for t in ("Add", "Sub", "Mul", "Div")},
    **{t: Lowering.activation for t in ("Relu", "Clip")},
    **{t: Lowering.conv for t in ("Conv", "ConvTranspose")},
    **{t: Lowering.pool for t in ("MaxPool", "AveragePool")},
    **{t: Lowering.global_pool for t in ("GlobalAveragePool", "GlobalMaxPool")},
    **{t: Lowering.reshape for t in ("Reshape", "Squeeze", "Unsqueeze")},
    **{t: Lowering.shape_of for t in ("Shape", "Size")},
    **{t: Lowering.resize for t in ("Resize", "Upsample")},
    "Gemm": Lowering.gemm,
    "MatMul": Lowering.matmul,
    "BatchNormalization": Lowering.batchnorm,
    "ReduceMean": Lowering.reduce_mean,
    "Flatten": Lowering.flatten,
    "Transpose": Lowering.transpose,
    "Concat": Lowering.concat,
    "Softmax": Lowering.softmax,
    "ArgMax": Lowering.argmax,
    "Cast": Lowering.cast,
    "Pad": Lowering.pad,
}

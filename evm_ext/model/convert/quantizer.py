"""Stage 4: the float IR -> integer ops, in order, by a table of IR-kind handlers.

Activations are asymmetric int8 per tensor from their calibration ranges (`choose_qparams`); weights are
symmetric int8 per output channel; unary elementwise functions become 256-entry tables evaluated by
onnxruntime itself on the real value of every int8 code. Ops that keep their input's quantization
(pools, reshape, transpose) take no parameters of their own.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

from evm_ext.model import ops
from evm_ext.model.convert.calibrate import Calibration
from evm_ext.model.convert.ir import IrKind, IrOp, label
from evm_ext.model.convert.lower import swap_group_axes
from evm_ext.model.errors import ConversionError
from evm_ext.model.quantize import choose_qparams, multiplier, quantize, quantize_weights, softmax_table
from evm_ext.tensor.conv import Geometry
from evm_ext.tensor.requant import INT8_MAX, INT8_MIN, M_MIN


class Quantizer:
    """Integer ops for IR ops; `values[i]` is value i of the model (0: the input), `index` by tensor name."""

    def __init__(self, cal: Calibration, consts: dict[str, np.ndarray], opsets: list) -> None:
        self.cal, self.consts, self.opsets = cal, consts, opsets
        self.index: dict[str, int] = {}
        self.values: list[ops.Value] = []
        self.ops: list[ops.Op] = []
        self.add_value(cal.input_name, ops.Value(cal.shape[cal.input_name], *self.qparams(cal.input_name)))

    def run(self, ir: list[IrOp]) -> list[ops.Op]:
        for op in ir:
            QUANTIZERS[op.kind](self, op, self.values[self.index[op.inputs[0]]])
        return self.ops

    def qparams(self, name: str) -> tuple[float, int]:
        return choose_qparams(self.cal.lo.get(name, 0.0), self.cal.hi.get(name, 0.0))

    def add_value(self, name: str, value: ops.Value) -> None:
        self.index[name] = len(self.values)
        self.values.append(value)

    def push(self, name: str, op_type: type[ops.Op], inputs: list[str], **fields) -> None:
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

    def linear(self, op: IrOp, x: ops.Value) -> None:
        scale, zp = self.qparams(op.output)
        clamp = self.clamp(op.act, scale, zp)
        w, b, rq = quantize_weights(op.weight, op.bias, x.scale, scale, zp, clamp, label(op.node))
        if op.kind == IrKind.FULLY_CONNECTED:
            self.push(op.output, ops.FullyConnected, op.inputs, weight=w, bias=b, requant=rq)
            return
        geometry = _geometry(op.attrs, w.shape[2:])
        if op.kind == IrKind.CONV:
            self.push(
                op.output,
                ops.Conv,
                op.inputs,
                weight=w,
                bias=b,
                groups=op.attrs["group"],
                geometry=geometry,
                requant=rq,
            )
            return
        self.push(
            op.output,
            ops.ConvTranspose,
            op.inputs,
            weight=swap_group_axes(w, op.attrs["group"]),
            bias=b,
            groups=op.attrs["group"],
            geometry=geometry,
            output_padding=op.attrs["output_padding"],
            requant=rq,
        )

    def lookup(self, op: IrOp, x: ops.Value) -> None:
        scale, zp = self.qparams(op.output)
        table = quantize(self.evaluate(op, x), scale, zp)
        self.push(op.output, ops.Lookup, op.inputs, scale=scale, zero_point=zp, table=table)

    def add(self, op: IrOp, x: ops.Value) -> None:
        """Two activations of any scales: the larger input scale gets a multiplier in [2^30, 2^31)."""
        scale, zp = self.qparams(op.output)
        a, b = (self.values[self.index[n]] for n in op.inputs)
        big = max(a.scale, b.scale)
        m, shift = multiplier(big / scale, label(op.node))
        ms = tuple(m if s == big else round(s / scale * 2**shift) for s in (a.scale, b.scale))
        if max(ms) < M_MIN:
            raise ConversionError(f"{label(op.node)}: cannot represent the input scales")
        self.push(
            op.output,
            ops.Add,
            op.inputs,
            scale=scale,
            zero_point=zp,
            lo=INT8_MIN,
            hi=INT8_MAX,
            multipliers=ms,
            shift=shift,
        )

    def mul(self, op: IrOp, x: ops.Value) -> None:
        scale, zp = self.qparams(op.output)
        a, b = (self.values[self.index[n]] for n in op.inputs)
        m, shift = multiplier(a.scale * b.scale / scale, label(op.node))
        requant = ops.Requant(
            scale, zp, INT8_MIN, INT8_MAX, np.array([m], np.uint32), np.array([shift], np.uint8)
        )
        self.push(op.output, ops.Mul, op.inputs, requant=requant)

    def pool(self, op: IrOp, x: ops.Value) -> None:
        kernel = op.attrs["kernel"]
        if op.kind == IrKind.MAX_POOL:
            self.push(op.output, ops.MaxPool, op.inputs, geometry=_geometry(op.attrs, kernel))
        else:
            self.push(
                op.output,
                ops.AvgPool,
                op.inputs,
                geometry=_geometry(op.attrs, kernel, dilated=False),
                count_include_pad=op.attrs["count_include_pad"],
            )
        want = self.cal.shape.get(op.output)
        if want is not None and self.values[-1].shape != want:
            raise ConversionError(
                f"{label(op.node)}: output shape {want} not reproduced (ceil_mode is not supported)"
            )

    def reshape(self, op: IrOp, x: ops.Value) -> None:
        self.push(op.output, ops.Reshape, op.inputs, shape=op.attrs["shape"])

    def transpose(self, op: IrOp, x: ops.Value) -> None:
        self.push(op.output, ops.Transpose, op.inputs, perm=op.attrs["perm"])

    def concat(self, op: IrOp, x: ops.Value) -> None:
        scale, zp = self.qparams(op.output)
        ms = [multiplier(self.values[self.index[n]].scale / scale, label(op.node)) for n in op.inputs]
        requant = ops.Requant(
            scale,
            zp,
            INT8_MIN,
            INT8_MAX,
            np.array([m for m, _ in ms], np.uint32),
            np.array([s for _, s in ms], np.uint8),
        )
        self.push(op.output, ops.Concat, op.inputs, axis=op.attrs["axis"], requant=requant)

    def softmax(self, op: IrOp, x: ops.Value) -> None:
        self.push(op.output, ops.Softmax, op.inputs, axis=op.attrs["axis"], table=softmax_table(x.scale))

    def argmax(self, op: IrOp, x: ops.Value) -> None:
        self.push(op.output, ops.ArgMax, op.inputs, axis=op.attrs["axis"], keepdims=op.attrs["keepdims"])

    def evaluate(self, op: IrOp, x: ops.Value) -> np.ndarray:
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


def _geometry(attrs: dict, kernel: tuple[int, ...], dilated: bool = True) -> Geometry:
    return Geometry(
        tuple(kernel),
        tuple(attrs.get("strides", (1, 1))),
        tuple(attrs.get("dilations", (1, 1))) if dilated else (1, 1),
        tuple(attrs.get("pads", (0, 0, 0, 0))),
    )


QUANTIZERS: dict[IrKind, Callable[[Quantizer, IrOp, ops.Value], None]] = {
    IrKind.FULLY_CONNECTED: Quantizer.linear,
    IrKind.CONV: Quantizer.linear,
    IrKind.CONV_TRANSPOSE: Quantizer.linear,
    IrKind.LOOKUP: Quantizer.lookup,
    IrKind.ADD: Quantizer.add,
    IrKind.MUL: Quantizer.mul,
    IrKind.MAX_POOL: Quantizer.pool,
    IrKind.AVG_POOL: Quantizer.pool,
    IrKind.RESHAPE: Quantizer.reshape,
    IrKind.TRANSPOSE: Quantizer.transpose,
    IrKind.CONCAT: Quantizer.concat,
    IrKind.SOFTMAX: Quantizer.softmax,
    IrKind.ARGMAX: Quantizer.argmax,
}

"""The operators of an on-chain graph: fields, validation, encoding and execution.

Shapes are per sample (the batch axis is not stored); axes in attributes are per-sample axes. Every op
produces exactly one value. A constructor raises `ValueError` for any inconsistency (the decoder turns it
into a `ModelFormatError` with the op's byte offset) and precomputes everything execution needs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from functools import cached_property
from typing import ClassVar

import numpy as np

from evm_ext.model.wire import Reader, Writer
from evm_ext.tensor import conv, elementwise, linear, softmax
from evm_ext.tensor import pool as pool_kernels
from evm_ext.tensor.requant import (
    INT8_MAX,
    INT8_MIN,
    M_LIMIT,
    M_MIN,
    MAX_FAN_IN,
    SHIFT_MAX,
    SHIFT_MIN,
    GemmRequantizer,
    Requantizer,
)


class OpKind(IntEnum):
    """Op codes of the format (one byte)."""

    FULLY_CONNECTED = 1
    CONV = 2
    CONV_TRANSPOSE = 3
    ADD = 4
    MUL = 5
    LOOKUP = 6
    MAX_POOL = 7
    AVG_POOL = 8
    RESHAPE = 9
    TRANSPOSE = 10
    CONCAT = 11
    SOFTMAX = 12
    ARGMAX = 13


@dataclass(frozen=True)
class Value:
    """A tensor of the graph: per-sample shape and int8 quantization (real = scale * (q - zero_point))."""

    shape: tuple[int, ...]
    scale: float
    zero_point: int

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class OpCost:
    """What gas is charged on, per sample: the price class `kind`, multiply-accumulates, output elements
    and weight bytes (the op's int8 GEMM weights, one byte each, streamed once per run by the compiled
    engine, `evm_ext.tensor.jit`).

    `kind` is the op's kind name, except for a conv with one output position or a transposed conv with
    one input position: their GEMM is a matrix-vector product, the work of a fully connected layer, and
    they are priced as "fully_connected"."""

    kind: str
    macs: int
    elements: int
    weight_bytes: int = 0


@dataclass(frozen=True, eq=False)
class Requant:
    """Stored requantization of an op's output: output scale/zero point, clamp, per-channel (M, shift)."""

    scale: float
    zero_point: int
    lo: int
    hi: int
    m: np.ndarray  # uint32, each in [2**30, 2**31)
    shift: np.ndarray  # uint8, each in [1, 62]

    def __post_init__(self) -> None:
        _require_dtype(self.m, np.uint32, "multipliers")
        _require_dtype(self.shift, np.uint8, "shifts")
        _require(INT8_MIN <= self.lo <= self.hi <= INT8_MAX, f"clamp range [{self.lo}, {self.hi}] invalid")
        _require(
            bool(np.all((self.m >= M_MIN) & (self.m < M_LIMIT))), "requant multiplier not in [2^30, 2^31)"
        )
        _require(
            bool(np.all((self.shift >= SHIFT_MIN) & (self.shift <= SHIFT_MAX))),
            "requant shift not in [1, 62]",
        )

    @classmethod
    def read(cls, r: Reader, channels: int) -> Requant:
        scale = r.scale("output scale")
        zero_point = r.i8("output zero point")
        lo, hi = r.i8("clamp low"), r.i8("clamp high")
        return cls(
            scale,
            zero_point,
            lo,
            hi,
            r.array(np.uint32, channels, "multipliers"),
            r.array(np.uint8, channels, "shifts"),
        )

    def write(self, w: Writer) -> None:
        w.f64(self.scale)
        w.i8(self.zero_point)
        w.i8(self.lo)
        w.i8(self.hi)
        w.array(np.uint32, self.m)
        w.array(np.uint8, self.shift)

    def requantizer(self, shape: tuple[int, ...]) -> Requantizer:
        return Requantizer(self.m, self.shift, self.zero_point, self.lo, self.hi, shape)

    def gemm_requantizer(
        self,
        shape: tuple[int, ...],
        bias: np.ndarray,
        plan: tuple[type[np.floating], tuple[np.ndarray, np.ndarray]],
        sample_shape: tuple[int, ...],
    ) -> GemmRequantizer:
        """Adds the (folded) int64 bias to a GEMM's exact output, then requantizes (see GemmRequantizer);
        `plan` is the GEMM's (float type, accumulator bounds) from `linear.gemm_plan`."""
        dtype, bounds = plan
        return GemmRequantizer(
            self.m, self.shift, self.zero_point, self.lo, self.hi, bias, bounds, dtype, shape, sample_shape
        )


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _require_dtype(array: np.ndarray, dtype: type[np.generic], what: str) -> None:
    """Stored arrays keep their exact wire type, so encoding never converts (and never changes) them."""
    if not (isinstance(array, np.ndarray) and array.dtype == dtype):
        raise ValueError(f"{what} must be a {np.dtype(dtype)} array")


def _read_pair(r: Reader, what: str) -> tuple[int, int]:
    return r.u16(what), r.u16(what)


class Op:
    """Base class: `inputs` are value indices; `out` is the produced value."""

    kind: ClassVar[OpKind]
    arity: ClassVar[int | None] = 1  # None: variable (1..255)
    inputs: tuple[int, ...]
    out: Value
    macs: int = 0
    params: int = 0
    weight_bytes: int = 0  # int8 GEMM weights (FC and conv kinds), read once per run
    workspace: int = 0  # largest temporary (elements per sample) besides the output

    @classmethod
    def read(cls, r: Reader, ins: list[Value]) -> dict:
        """Read the op's body fields (sizes may depend on the input shapes)."""
        raise NotImplementedError

    def write(self, w: Writer) -> None:
        """Write the op's body fields."""
        raise NotImplementedError

    def run(self, xs: list[np.ndarray]) -> np.ndarray:
        """Execute on batched int8 inputs (batch on axis 0)."""
        raise NotImplementedError

    def cost(self) -> OpCost:
        return OpCost(self.kind.name.lower(), self.macs, self.out.size, self.weight_bytes)


class FullyConnected(Op):
    """y = x W^T + b on a rank-1 input; weight int8 (C, K) symmetric per output channel, bias int32."""

    kind = OpKind.FULLY_CONNECTED

    def __init__(
        self,
        inputs: tuple[int, ...],
        ins: list[Value],
        weight: np.ndarray,
        bias: np.ndarray,
        requant: Requant,
    ) -> None:
        _check_params(weight, bias)
        (x,) = ins
        _require(len(x.shape) == 1, f"fully_connected needs a rank-1 input, got shape {x.shape}")
        _require(weight.ndim == 2 and weight.shape[1] == x.shape[0], "weight shape does not match input")
        channels, fan_in = weight.shape
        _require(fan_in <= MAX_FAN_IN, f"fan-in {fan_in} exceeds {MAX_FAN_IN}")
        _require(
            bias.shape == (channels,) and requant.m.shape == (channels,), "per-channel array sizes differ"
        )
        self.inputs, self.weight, self.bias, self.requant = inputs, weight, bias, requant
        self.out = Value((channels,), requant.scale, requant.zero_point)
        self.macs, self.params = channels * fan_in, channels * (fan_in + 1)
        self.weight_bytes = weight.size
        self._zp = x.zero_point

    @cached_property
    def _plan(self) -> tuple[type[np.floating], tuple[np.ndarray, np.ndarray]]:
        """The numpy engine's GEMM plan (built on its first run: INFER runs the compiled engine)."""
        return linear.gemm_plan(self.weight, INT8_MIN, INT8_MAX)

    @cached_property
    def _weight_t(self) -> np.ndarray:
        return self.weight.T.astype(self._plan[0])

    @cached_property
    def _rq(self) -> GemmRequantizer:
        folded = linear.fold_input_zero_point(self.weight, self.bias, self._zp, axes=(1,))
        return self.requant.gemm_requantizer(self.out.shape, folded, self._plan, self.out.shape)

    @classmethod
    def read(cls, r: Reader, ins: list[Value]) -> dict:
        channels = r.u32("output features")
        r.check(len(ins[0].shape) == 1, f"fully_connected needs a rank-1 input, got shape {ins[0].shape}")
        r.check(channels >= 1, "zero output features")
        weight = r.array(np.int8, channels * ins[0].shape[0], "weights").reshape(channels, ins[0].shape[0])
        return {
            "weight": weight,
            "bias": r.array(np.int32, channels, "bias"),
            "requant": Requant.read(r, channels),
        }

    def write(self, w: Writer) -> None:
        w.u32(self.weight.shape[0])
        w.array(np.int8, self.weight)
        w.array(np.int32, self.bias)
        self.requant.write(w)

    def run(self, xs: list[np.ndarray]) -> np.ndarray:
        return linear.fully_connected(xs[0], self._weight_t, self._rq)


def _read_geometry(r: Reader, dilated: bool = True) -> conv.Geometry:
    kernel = _read_pair(r, "kernel")
    stride = _read_pair(r, "stride")
    dilation = _read_pair(r, "dilation") if dilated else (1, 1)
    pads = (r.u16("pads"), r.u16("pads"), r.u16("pads"), r.u16("pads"))
    return conv.Geometry(kernel, stride, dilation, pads)


def _write_geometry(w: Writer, g: conv.Geometry, dilated: bool = True) -> None:
    for v in (*g.kernel, *g.stride, *(g.dilation if dilated else ()), *g.pads):
        w.u16(v)


def _check_params(weight: np.ndarray, bias: np.ndarray) -> None:
    _require_dtype(weight, np.int8, "weight")
    _require_dtype(bias, np.int32, "bias")


def _check_geometry(g: conv.Geometry, x: Value) -> int:
    """Validate a window op's geometry; return the elements of its padded input (a temporary)."""
    _require(len(x.shape) == 3, f"expects a (C, H, W) input, got shape {x.shape}")
    _require(min(*g.kernel, *g.stride, *g.dilation) >= 1, "kernel, stride and dilation must be >= 1")
    c, h, w = x.shape
    pt, pl, pb, pr = g.pads
    return c * (h + pt + pb) * (w + pl + pr)


class Conv(Op):
    """2-D convolution with groups; weight int8 (Cout, Cin/G, kh, kw), bias int32 (Cout,)."""

    kind = OpKind.CONV

    def __init__(
        self,
        inputs: tuple[int, ...],
        ins: list[Value],
        weight: np.ndarray,
        bias: np.ndarray,
        groups: int,
        geometry: conv.Geometry,
        requant: Requant,
    ) -> None:
        _check_params(weight, bias)
        (x,) = ins
        padded = _check_geometry(geometry, x)
        cin, h, w = x.shape
        _require(weight.ndim == 4 and weight.shape[2:] == geometry.kernel, "weight shape != kernel")
        cout, cin_g = weight.shape[:2]
        _require(
            groups >= 1 and cin == cin_g * groups and cout % groups == 0, "groups do not divide channels"
        )
        oh, ow = geometry.output_hw(h, w)
        _require(oh >= 1 and ow >= 1, f"empty output ({oh}x{ow})")
        fan_in = cin_g * geometry.kernel[0] * geometry.kernel[1]
        _require(fan_in <= MAX_FAN_IN, f"fan-in {fan_in} exceeds {MAX_FAN_IN}")
        _require(bias.shape == (cout,) and requant.m.shape == (cout,), "per-channel array sizes differ")
        self.inputs, self.weight, self.bias, self.groups, self.geometry, self.requant = (
            inputs,
            weight,
            bias,
            groups,
            geometry,
            requant,
        )
        self.out = Value((cout, oh, ow), requant.scale, requant.zero_point)
        self.macs, self.params = cout * oh * ow * fan_in, weight.size + cout
        self.workspace = padded + oh * ow * cin * geometry.kernel[0] * geometry.kernel[1] + cout * oh * ow
        self.weight_bytes = weight.size
        self._zp = x.zero_point

    # The numpy engine's kernel parameters, built on its first run (INFER runs the compiled engine).
    @cached_property
    def _plan(self) -> tuple[type[np.floating], tuple[np.ndarray, np.ndarray]]:
        return linear.gemm_plan(self.weight.reshape(self.weight.shape[0], -1), INT8_MIN, INT8_MAX)

    @cached_property
    def _weight(self) -> np.ndarray:
        cout = self.weight.shape[0]
        return self.weight.reshape(self.groups, cout // self.groups, -1).astype(self._plan[0])

    @cached_property
    def _folded(self) -> np.ndarray:
        return linear.fold_input_zero_point(self.weight, self.bias, self._zp, axes=(1, 2, 3))

    @cached_property
    def _rq(self) -> GemmRequantizer:
        shape = (self.out.shape[0], 1, 1)
        return self.requant.gemm_requantizer(shape, self._folded, self._plan, self.out.shape)

    @classmethod
    def read(cls, r: Reader, ins: list[Value]) -> dict:
        cout, groups = r.u32("output channels"), r.u32("groups")
        geometry = _read_geometry(r)
        r.check(len(ins[0].shape) == 3, f"conv expects a (C, H, W) input, got shape {ins[0].shape}")
        r.check(1 <= groups <= ins[0].shape[0] and ins[0].shape[0] % groups == 0, f"bad groups {groups}")
        r.check(cout >= 1, "zero output channels")
        shape = (cout, ins[0].shape[0] // groups, *geometry.kernel)
        weight = r.array(np.int8, math.prod(shape), "weights").reshape(shape)
        return {
            "weight": weight,
            "bias": r.array(np.int32, cout, "bias"),
            "groups": groups,
            "geometry": geometry,
            "requant": Requant.read(r, cout),
        }

    def write(self, w: Writer) -> None:
        w.u32(self.weight.shape[0])
        w.u32(self.groups)
        _write_geometry(w, self.geometry)
        w.array(np.int8, self.weight)
        w.array(np.int32, self.bias)
        self.requant.write(w)

    def run(self, xs: list[np.ndarray]) -> np.ndarray:
        return conv.conv2d(xs[0], self._weight, self.geometry, self._zp, self._rq)

    def cost(self) -> OpCost:
        one_position = self.out.shape[1] * self.out.shape[2] == 1
        kind = "fully_connected" if one_position else "conv"
        return OpCost(kind, self.macs, self.out.size, self.weight_bytes)

    def then_max_pool(self, pool: MaxPool) -> Callable[[list[np.ndarray]], np.ndarray]:
        """`pool.run([self.run(xs)])` with the pool applied before requantization (fewer elements).

        Bit-identical: per channel, requantization q is non-decreasing in the accumulator, so
        max(q(a_i)) == q(max(a_i)) over every window; padding (-inf here, -128 after q) never wins since
        every window holds a real element.
        """
        rq = self.requant.gemm_requantizer(
            (self.out.shape[0], 1, 1), self._folded, self._plan, pool.out.shape
        )

        def run(xs: list[np.ndarray]) -> np.ndarray:
            acc = conv.conv2d_gemm(xs[0], self._weight, self.geometry, self._zp)
            return rq(pool_kernels.max_pool2d(acc, pool.geometry, -np.inf))

        return run


class ConvTranspose(Op):
    """2-D transposed convolution; weight int8 (Cin, Cout/G, kh, kw) as in ONNX, bias int32 (Cout,)."""

    kind = OpKind.CONV_TRANSPOSE

    def __init__(
        self,
        inputs: tuple[int, ...],
        ins: list[Value],
        weight: np.ndarray,
        bias: np.ndarray,
        groups: int,
        geometry: conv.Geometry,
        output_padding: tuple[int, int],
        requant: Requant,
    ) -> None:
        _check_params(weight, bias)
        (x,) = ins
        _check_geometry(geometry, x)
        cin, h, w = x.shape
        _require(weight.ndim == 4 and weight.shape[2:] == geometry.kernel, "weight shape != kernel")
        _require(
            groups >= 1 and weight.shape[0] == cin and cin % groups == 0, "groups do not divide channels"
        )
        cout_g = weight.shape[1]
        cout = cout_g * groups
        _require(
            all(
                p < max(s, d)
                for p, s, d in zip(output_padding, geometry.stride, geometry.dilation, strict=True)
            ),
            "output_padding too large",
        )
        oh, ow = geometry.transposed_hw(h, w, output_padding)
        _require(oh >= 1 and ow >= 1, f"empty output ({oh}x{ow})")
        kh, kw = geometry.kernel
        fan_in = cin // groups * kh * kw
        _require(fan_in <= MAX_FAN_IN, f"fan-in {fan_in} exceeds {MAX_FAN_IN}")
        _require(bias.shape == (cout,) and requant.m.shape == (cout,), "per-channel array sizes differ")
        self.inputs, self.weight, self.bias, self.groups, self.geometry, self.output_padding, self.requant = (
            inputs,
            weight,
            bias,
            groups,
            geometry,
            output_padding,
            requant,
        )
        self.out = Value((cout, oh, ow), requant.scale, requant.zero_point)
        self.macs, self.params = cin * h * w * cout_g * kh * kw, weight.size + cout
        full_h = max(
            (h - 1) * geometry.stride[0] + geometry.dilation[0] * (kh - 1) + 1, geometry.pads[0] + oh
        )
        full_w = max(
            (w - 1) * geometry.stride[1] + geometry.dilation[1] * (kw - 1) + 1, geometry.pads[1] + ow
        )
        self.workspace = cout * kh * kw * h * w + cout * full_h * full_w + cin * h * w
        self.weight_bytes = weight.size
        self._zp = x.zero_point
        self._in_positions = h * w

    # The numpy engine's kernel parameters, built on its first run (INFER runs the compiled engine).
    @cached_property
    def _plan(self) -> tuple[type[np.floating], tuple[np.ndarray, np.ndarray]]:
        cin, cout_g, kh, kw = self.weight.shape
        groups, cout = self.groups, self.out.shape[0]
        # Output channel co sums products of its weights W[:, co] (over every group member) with x - zp.
        per_channel = (self.weight.reshape(groups, cin // groups, cout_g, kh * kw).transpose(0, 2, 1, 3)
                       .reshape(cout, -1))
        return linear.gemm_plan(per_channel, INT8_MIN - self._zp, INT8_MAX - self._zp)

    @cached_property
    def _weight(self) -> np.ndarray:
        cin, cout_g, kh, kw = self.weight.shape
        w = self.weight.reshape(self.groups, cin // self.groups, cout_g * kh * kw).transpose(0, 2, 1)
        return w.astype(self._plan[0])

    @cached_property
    def _rq(self) -> GemmRequantizer:
        shape = (self.out.shape[0], 1, 1)
        return self.requant.gemm_requantizer(shape, self.bias, self._plan, self.out.shape)

    @classmethod
    def read(cls, r: Reader, ins: list[Value]) -> dict:
        cout, groups = r.u32("output channels"), r.u32("groups")
        geometry = _read_geometry(r)
        output_padding = _read_pair(r, "output padding")
        r.check(len(ins[0].shape) == 3, f"conv_transpose expects a (C, H, W) input, got {ins[0].shape}")
        r.check(1 <= groups <= ins[0].shape[0] and ins[0].shape[0] % groups == 0, f"bad groups {groups}")
        r.check(cout >= 1 and cout % groups == 0, f"bad output channels {cout}")
        shape = (ins[0].shape[0], cout // groups, *geometry.kernel)
        weight = r.array(np.int8, math.prod(shape), "weights").reshape(shape)
        return {
            "weight": weight,
            "bias": r.array(np.int32, cout, "bias"),
            "groups": groups,
            "geometry": geometry,
            "output_padding": output_padding,
            "requant": Requant.read(r, cout),
        }

    def write(self, w: Writer) -> None:
        w.u32(self.weight.shape[1] * self.groups)
        w.u32(self.groups)
        _write_geometry(w, self.geometry)
        w.u16(self.output_padding[0])
        w.u16(self.output_padding[1])
        w.array(np.int8, self.weight)
        w.array(np.int32, self.bias)
        self.requant.write(w)

    def run(self, xs: list[np.ndarray]) -> np.ndarray:
        return conv.conv_transpose2d(
            xs[0], self._weight, self.geometry, self.output_padding, self._zp, self._rq
        )

    def cost(self) -> OpCost:
        kind = "fully_connected" if self._in_positions == 1 else "conv_transpose"
        return OpCost(kind, self.macs, self.out.size, self.weight_bytes)


def _broadcast(a: Value, b: Value) -> tuple[int, ...]:
    try:
        return tuple(np.broadcast_shapes(a.shape, b.shape))
    except ValueError:
        raise ValueError(f"shapes {a.shape} and {b.shape} do not broadcast") from None


def _batched(x: np.ndarray, rank: int) -> np.ndarray:
    """Insert axes after the batch axis so a lower-rank operand broadcasts like its per-sample shape."""
    missing = rank + 1 - x.ndim
    return x.reshape(x.shape[:1] + (1,) * missing + x.shape[1:]) if missing else x


class Add(Op):
    """z = clamp(((a - za) * Ma + (b - zb) * Mb + 2**(s-1)) >> s + zo); per-sample shapes broadcast."""

    kind = OpKind.ADD
    arity = 2

    def __init__(
        self,
        inputs: tuple[int, ...],
        ins: list[Value],
        scale: float,
        zero_point: int,
        lo: int,
        hi: int,
        multipliers: tuple[int, int],
        shift: int,
    ) -> None:
        shape = _broadcast(*ins)
        _require(INT8_MIN <= lo <= hi <= INT8_MAX, f"clamp range [{lo}, {hi}] invalid")
        _require(
            max(multipliers) >= M_MIN and all(0 <= m < M_LIMIT for m in multipliers),
            "add multipliers must be < 2^31 with the larger >= 2^30",
        )
        _require(SHIFT_MIN <= shift <= SHIFT_MAX, f"shift {shift} not in [1, 62]")
        self.inputs, self.scale, self.lo, self.hi, self.multipliers, self.shift = (
            inputs,
            scale,
            lo,
            hi,
            multipliers,
            shift,
        )
        self.out = Value(shape, scale, zero_point)
        self._zps = (ins[0].zero_point, ins[1].zero_point)
        self._rq = Requantizer(np.int64(1), np.int64(shift), zero_point, lo, hi, ())

    @classmethod
    def read(cls, r: Reader, ins: list[Value]) -> dict:
        return {
            "scale": r.scale("output scale"),
            "zero_point": r.i8("output zero point"),
            "lo": r.i8("clamp low"),
            "hi": r.i8("clamp high"),
            "multipliers": (r.u32("multiplier"), r.u32("multiplier")),
            "shift": r.u8("shift"),
        }

    def write(self, w: Writer) -> None:
        w.f64(self.scale)
        w.i8(self.out.zero_point)
        w.i8(self.lo)
        w.i8(self.hi)
        w.u32(self.multipliers[0])
        w.u32(self.multipliers[1])
        w.u8(self.shift)

    def run(self, xs: list[np.ndarray]) -> np.ndarray:
        rank = len(self.out.shape)
        return elementwise.add(
            _batched(xs[0], rank),
            _batched(xs[1], rank),
            self._zps,
            self.multipliers,
            self._rq,
        )


class Mul(Op):
    """z = requant((a - za) * (b - zb)); per-sample shapes broadcast."""

    kind = OpKind.MUL
    arity = 2

    def __init__(self, inputs: tuple[int, ...], ins: list[Value], requant: Requant) -> None:
        self.inputs, self.requant = inputs, requant
        _require(requant.m.shape == (1,), "mul has one multiplier")
        self.out = Value(_broadcast(*ins), requant.scale, requant.zero_point)
        self.macs = self.out.size
        self._zps = (ins[0].zero_point, ins[1].zero_point)
        self._rq = requant.requantizer(())

    @classmethod
    def read(cls, r: Reader, ins: list[Value]) -> dict:
        return {"requant": Requant.read(r, 1)}

    def write(self, w: Writer) -> None:
        self.requant.write(w)

    def run(self, xs: list[np.ndarray]) -> np.ndarray:
        rank = len(self.out.shape)
        return elementwise.mul(_batched(xs[0], rank), _batched(xs[1], rank), self._zps, self._rq)


class Lookup(Op):
    """y = table[x + 128]: any unary elementwise function (ReLU, LeakyReLU, Tanh, Sigmoid, Clip, ...)."""

    kind = OpKind.LOOKUP

    def __init__(
        self, inputs: tuple[int, ...], ins: list[Value], scale: float, zero_point: int, table: np.ndarray
    ) -> None:
        _require_dtype(table, np.int8, "lookup table")
        _require(table.shape == (256,), "lookup table must have 256 entries")
        self.inputs, self.table = inputs, table
        self.out = Value(ins[0].shape, scale, zero_point)

    @classmethod
    def read(cls, r: Reader, ins: list[Value]) -> dict:
        return {
            "scale": r.scale("output scale"),
            "zero_point": r.i8("output zero point"),
            "table": r.array(np.int8, 256, "table"),
        }

    def write(self, w: Writer) -> None:
        w.f64(self.out.scale)
        w.i8(self.out.zero_point)
        w.array(np.int8, self.table)

    def run(self, xs: list[np.ndarray]) -> np.ndarray:
        return elementwise.lookup(xs[0], self.table)


class MaxPool(Op):
    """Window maximum; keeps the input quantization."""

    kind = OpKind.MAX_POOL

    def __init__(self, inputs: tuple[int, ...], ins: list[Value], geometry: conv.Geometry) -> None:
        (x,) = ins
        padded = _check_geometry(geometry, x)
        eff = [d * (k - 1) + 1 for k, d in zip(geometry.kernel, geometry.dilation, strict=True)]
        _require(
            all(p < e for p, e in zip(geometry.pads, eff * 2, strict=True)), "pads must be < kernel extent"
        )
        oh, ow = geometry.output_hw(*x.shape[1:])
        _require(oh >= 1 and ow >= 1, f"empty output ({oh}x{ow})")
        self.inputs, self.geometry = inputs, geometry
        self.out = Value((x.shape[0], oh, ow), x.scale, x.zero_point)
        self.macs = self.out.size * geometry.kernel[0] * geometry.kernel[1]
        self.workspace = 2 * padded

    @classmethod
    def read(cls, r: Reader, ins: list[Value]) -> dict:
        return {"geometry": _read_geometry(r)}

    def write(self, w: Writer) -> None:
        _write_geometry(w, self.geometry)

    def run(self, xs: list[np.ndarray]) -> np.ndarray:
        return pool_kernels.max_pool2d(xs[0], self.geometry)


class AvgPool(Op):
    """Integer window mean (round half toward +inf); keeps the input quantization."""

    kind = OpKind.AVG_POOL

    def __init__(
        self, inputs: tuple[int, ...], ins: list[Value], geometry: conv.Geometry, count_include_pad: bool
    ) -> None:
        (x,) = ins
        padded = _check_geometry(geometry, x)
        _require(geometry.dilation == (1, 1), "avg_pool has no dilation")
        _require(
            all(p < k for p, k in zip(geometry.pads, geometry.kernel * 2, strict=True)),
            "pads must be < kernel",
        )
        oh, ow = geometry.output_hw(*x.shape[1:])
        _require(oh >= 1 and ow >= 1, f"empty output ({oh}x{ow})")
        self.inputs, self.geometry, self.count_include_pad = inputs, geometry, count_include_pad
        self.out = Value((x.shape[0], oh, ow), x.scale, x.zero_point)
        self.macs = self.out.size * geometry.kernel[0] * geometry.kernel[1]
        self.workspace = 2 * padded
        self._zp = x.zero_point

    @classmethod
    def read(cls, r: Reader, ins: list[Value]) -> dict:
        return {
            "geometry": _read_geometry(r, dilated=False),
            "count_include_pad": r.flag("count_include_pad"),
        }

    def write(self, w: Writer) -> None:
        _write_geometry(w, self.geometry, dilated=False)
        w.u8(int(self.count_include_pad))

    def run(self, xs: list[np.ndarray]) -> np.ndarray:
        return pool_kernels.avg_pool2d(xs[0], self.geometry, self.count_include_pad, self._zp)


class Reshape(Op):
    """Same elements, new per-sample shape (Flatten, Reshape, Squeeze, Unsqueeze)."""

    kind = OpKind.RESHAPE

    def __init__(self, inputs: tuple[int, ...], ins: list[Value], shape: tuple[int, ...]) -> None:
        (x,) = ins
        _require(math.prod(shape) == x.size and len(shape) >= 1, f"cannot reshape {x.shape} to {shape}")
        self.inputs = inputs
        self.out = Value(tuple(shape), x.scale, x.zero_point)

    @classmethod
    def read(cls, r: Reader, ins: list[Value]) -> dict:
        rank = r.u8("rank")
        r.check(1 <= rank <= 8, f"rank {rank} out of range")
        return {"shape": tuple(r.u32("dim") for _ in range(rank))}

    def write(self, w: Writer) -> None:
        w.u8(len(self.out.shape))
        for d in self.out.shape:
            w.u32(d)

    def run(self, xs: list[np.ndarray]) -> np.ndarray:
        return xs[0].reshape((xs[0].shape[0], *self.out.shape))


class Transpose(Op):
    """Permute per-sample axes."""

    kind = OpKind.TRANSPOSE

    def __init__(self, inputs: tuple[int, ...], ins: list[Value], perm: tuple[int, ...]) -> None:
        (x,) = ins
        _require(
            sorted(perm) == list(range(len(x.shape))), f"{perm} is not a permutation of {len(x.shape)} axes"
        )
        self.inputs, self.perm = inputs, tuple(perm)
        self.out = Value(tuple(x.shape[p] for p in perm), x.scale, x.zero_point)
        self._axes = (0, *(p + 1 for p in perm))

    @classmethod
    def read(cls, r: Reader, ins: list[Value]) -> dict:
        return {"perm": tuple(r.u8("perm") for _ in range(len(ins[0].shape)))}

    def write(self, w: Writer) -> None:
        for p in self.perm:
            w.u8(p)

    def run(self, xs: list[np.ndarray]) -> np.ndarray:
        return np.ascontiguousarray(xs[0].transpose(self._axes))


class Concat(Op):
    """Concatenate along a per-sample axis; input i is requantized with (M_i, s_i) to the output params."""

    kind = OpKind.CONCAT
    arity = None

    def __init__(self, inputs: tuple[int, ...], ins: list[Value], axis: int, requant: Requant) -> None:
        rank = len(ins[0].shape)
        _require(axis < rank, f"axis {axis} out of range for rank {rank}")
        _require(requant.lo == INT8_MIN and requant.hi == INT8_MAX, "concat does not clamp")
        _require(requant.m.shape == (len(ins),), "one multiplier per input")
        off_axis = [d for i, d in enumerate(ins[0].shape) if i != axis]
        for v in ins:
            same = len(v.shape) == rank and [d for i, d in enumerate(v.shape) if i != axis] == off_axis
            _require(same, "concat inputs differ off the axis")
        shape = list(ins[0].shape)
        shape[axis] = sum(v.shape[axis] for v in ins)
        self.inputs, self.axis, self.requant = inputs, axis, requant
        self.out = Value(tuple(shape), requant.scale, requant.zero_point)
        self._zps = [v.zero_point for v in ins]
        self._rqs = [
            Requantizer(requant.m[i], requant.shift[i], requant.zero_point, INT8_MIN, INT8_MAX, ())
            for i in range(len(ins))
        ]

    @classmethod
    def read(cls, r: Reader, ins: list[Value]) -> dict:
        return {"axis": r.u8("axis"), "requant": Requant.read(r, len(ins))}

    def write(self, w: Writer) -> None:
        w.u8(self.axis)
        self.requant.write(w)

    def run(self, xs: list[np.ndarray]) -> np.ndarray:
        return elementwise.concat(xs, self.axis + 1, self._zps, self._rqs)


class Softmax(Op):
    """Integer softmax along a per-sample axis (see `evm_ext.tensor.softmax`); output 1/256, -128."""

    kind = OpKind.SOFTMAX

    def __init__(self, inputs: tuple[int, ...], ins: list[Value], axis: int, table: np.ndarray) -> None:
        (x,) = ins
        _require(axis < len(x.shape), f"axis {axis} out of range for rank {len(x.shape)}")
        _require_dtype(table, np.uint32, "softmax table")
        _require(
            table.shape == (256,)
            and int(table[0]) == softmax.SOFTMAX_ONE
            and int(table.max()) <= softmax.SOFTMAX_ONE,
            "softmax table must start at 2^20, entries <= 2^20",
        )
        self.inputs, self.axis, self.table = inputs, axis, table
        self.out = Value(x.shape, softmax.SOFTMAX_SCALE, softmax.SOFTMAX_ZERO_POINT)
        self.macs = x.size
        self._table = table.astype(np.int64)

    @classmethod
    def read(cls, r: Reader, ins: list[Value]) -> dict:
        return {"axis": r.u8("axis"), "table": r.array(np.uint32, 256, "exp table")}

    def write(self, w: Writer) -> None:
        w.u8(self.axis)
        w.array(np.uint32, self.table)

    def run(self, xs: list[np.ndarray]) -> np.ndarray:
        return softmax.softmax(xs[0], self.axis + 1, self._table)


class ArgMax(Op):
    """Index of the first maximum along a per-sample axis (length <= 128); output scale 1, zero point 0."""

    kind = OpKind.ARGMAX

    def __init__(self, inputs: tuple[int, ...], ins: list[Value], axis: int, keepdims: bool) -> None:
        (x,) = ins
        _require(axis < len(x.shape), f"axis {axis} out of range for rank {len(x.shape)}")
        _require(x.shape[axis] <= 128, f"argmax axis length {x.shape[axis]} > 128")
        shape = tuple(1 if i == axis else d for i, d in enumerate(x.shape) if keepdims or i != axis)
        self.inputs, self.axis, self.keepdims = inputs, axis, keepdims
        self.out = Value(shape or (1,), 1.0, 0)
        self.macs = x.size

    @classmethod
    def read(cls, r: Reader, ins: list[Value]) -> dict:
        return {"axis": r.u8("axis"), "keepdims": r.flag("keepdims")}

    def write(self, w: Writer) -> None:
        w.u8(self.axis)
        w.u8(int(self.keepdims))

    def run(self, xs: list[np.ndarray]) -> np.ndarray:
        y = softmax.argmax(xs[0], self.axis + 1, self.keepdims)
        return y.reshape((y.shape[0], *self.out.shape))


OPS: dict[int, type[Op]] = {
    cls.kind: cls
    for cls in (
        FullyConnected,
        Conv,
        ConvTranspose,
        Add,
        Mul,
        Lookup,
        MaxPool,
        AvgPool,
        Reshape,
        Transpose,
        Concat,
        Softmax,
        ArgMax,
    )
}

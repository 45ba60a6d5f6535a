"""The on-chain model format (spec: docs/model-format.md): canonical encoding and strict decoding.

Layout (little-endian): magic "AIEM", version u8, input value (rank u8, dims u32[rank], scale f64,
zero point i8), op count u16, then each op: kind u8, input count u8, input value indices u16[count], body.
Value 0 is the input, op i produces value i + 1, the last value is the output. Every field has exactly one
valid encoding and no trailing bytes are allowed, so equal models have equal bytes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from evm_ext.model.errors import ModelFormatError
from evm_ext.model.ops import OPS, Op, OpKind, Value
from evm_ext.model.wire import Reader, Writer

BuildHook = Callable[[OpKind], None]
MAGIC = b"AIEM"
VERSION = 1


@dataclass(frozen=True)
class Limits:
    """Decoder bounds, all per sample; checked before anything proportional to them is allocated."""

    max_ops: int = 256
    max_rank: int = 6
    max_dim: int = 1 << 16
    max_elements: int = 1 << 22  # per value
    max_total_elements: int = 1 << 24  # all values of the graph (int8 bytes alive during a run)
    max_params: int = 1 << 25  # weights + biases, whole model (a 32 MiB model holds at most 2**25 int8s)
    max_macs: int = 1 << 30  # whole model
    max_workspace: int = 1 << 22  # elements of the temporaries of one op (padded input, im2col, ...)


DEFAULT_LIMITS = Limits()


def _check_value(r: Reader, value: Value, limits: Limits, offset: int, what: str) -> None:
    shape = value.shape
    r.check(
        1 <= len(shape) <= limits.max_rank, f"{what} rank {len(shape)} not in [1, {limits.max_rank}]", offset
    )
    r.check(
        all(1 <= d <= limits.max_dim for d in shape),
        f"{what} dims {shape} not in [1, {limits.max_dim}]",
        offset,
    )
    r.check(
        math.prod(shape) <= limits.max_elements,
        f"{what} has {math.prod(shape)} elements, limit {limits.max_elements}",
        offset,
    )


def declared_op_count(data: bytes) -> int:
    """The op count field of `data`, read from its fixed-layout prefix without decoding anything else
    (INFER charges the per-op decode price from it before decoding); 0 if the prefix is not that of a
    model of this format version (the decoder then rejects it at once)."""
    if data[:5] != MAGIC + bytes([VERSION]) or len(data) < 6:
        return 0
    at = 6 + 4 * data[5] + 9  # rank u8, dims u32[rank], scale f64, zero point i8
    return int.from_bytes(data[at : at + 2], "little") if 1 <= data[5] and at + 2 <= len(data) else 0


def decode_graph(
    data: bytes, limits: Limits = DEFAULT_LIMITS, before_build: BuildHook | None = None
) -> tuple[Value, list[Op]]:
    """Parse and validate `data`; raise ModelFormatError (with byte offset) on any defect.

    `before_build(kind)` is called for each op after its body is parsed and before the op is built. INFER
    charges the build there; whatever it raises (out of gas) stops the decode."""
    r = Reader(data)
    r.check(r.take(4, "magic") == MAGIC, "not an aievm model (bad magic)", 0)
    version = r.u8("version")
    r.check(version == VERSION, f"unsupported format version {version} (expected {VERSION})", 4)
    at = r.pos
    rank = r.u8("input rank")
    r.check(1 <= rank <= limits.max_rank, f"input rank {rank} not in [1, {limits.max_rank}]", at)
    dims = tuple(r.u32("input dim") for _ in range(rank))
    source = Value(dims, r.scale("input scale"), r.i8("input zero point"))
    _check_value(r, source, limits, at, "input")
    at = r.pos
    n_ops = r.u16("op count")
    r.check(1 <= n_ops <= limits.max_ops, f"op count {n_ops} not in [1, {limits.max_ops}]", at)
    values, ops = [source], []
    params = macs = 0
    total = source.size
    for index in range(n_ops):
        at = r.pos
        kind = r.u8("op kind")
        cls = OPS.get(kind)
        r.check(cls is not None, f"op {index}: unknown op kind {kind}", at)
        arity = r.u8("input count")
        r.check(
            arity == cls.arity if cls.arity else arity >= 1,
            f"op {index} ({cls.kind.name.lower()}): {arity} inputs",
            at,
        )
        inputs = tuple(r.u16("input index") for _ in range(arity))
        r.check(all(i < len(values) for i in inputs), f"op {index}: input refers to a later value", at)
        ins = [values[i] for i in inputs]
        try:
            fields = cls.read(r, ins)
        except ValueError as exc:
            raise r.fail(f"op {index} ({cls.kind.name.lower()}): {exc}", at) from None
        if before_build is not None:
            before_build(cls.kind)
        try:
            op = cls(inputs, ins, **fields)
        except ValueError as exc:
            raise r.fail(f"op {index} ({cls.kind.name.lower()}): {exc}", at) from None
        _check_value(r, op.out, limits, at, f"op {index} output")
        r.check(op.workspace <= limits.max_workspace, f"op {index}: workspace {op.workspace} over limit", at)
        params, macs, total = params + op.params, macs + op.macs, total + op.out.size
        r.check(total <= limits.max_total_elements, f"values exceed {limits.max_total_elements} elements", at)
        r.check(params <= limits.max_params, f"model has over {limits.max_params} parameters", at)
        r.check(macs <= limits.max_macs, f"model needs over {limits.max_macs} MACs per sample", at)
        values.append(op.out)
        ops.append(op)
    r.end()
    return source, ops


def encode_graph(source: Value, ops: list[Op]) -> bytes:
    """The canonical bytes of a graph (inverse of `decode_graph`)."""
    w = Writer()
    w.parts.append(MAGIC)
    w.u8(VERSION)
    w.u8(len(source.shape))
    for d in source.shape:
        w.u32(d)
    w.f64(source.scale)
    w.i8(source.zero_point)
    w.u16(len(ops))
    for op in ops:
        w.u8(op.kind)
        w.u8(len(op.inputs))
        for i in op.inputs:
            w.u16(i)
        op.write(w)
    return w.getvalue()


__all__ = [
    "DEFAULT_LIMITS", "Limits", "ModelFormatError", "declared_op_count", "decode_graph", "encode_graph",
]

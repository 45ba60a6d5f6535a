"""The engine's SIMD primitive: exact u8 x s8 products of one input column with 16 weight rows, in LLVM IR.

`dot16(x, x_off, w, w_off, groups, acc, acc_off)` sets 16 int32 lanes

    acc[acc_off + l] = sum_{g < groups} sum_{t < 4} u8(x[x_off + 4g + t]) * s8(w[w_off + 64g + 4l + t])

and `dot16x4(x, x_off, x_stride, w, w_off, groups, acc, acc_off, acc_stride)` does the same for four
columns at x_off + i * x_stride into acc_off + i * acc_stride (i < 4), loading each weight block once.

The layout is the one int8 GEMMs use with VNNI (XNNPACK, oneDNN): a lane is an output channel, a group
is four consecutive fan-in taps, the weights are stored "tiled" (16 channels x 4 taps per 64 bytes,
`lowering.tile_weights`) and the input column is read four bytes at a time, broadcast to every lane. The
compiled engine stores the input columns as u8 = x + 128 (the int8 sign bit flipped); the lowering folds
the -128 * sum(w) that this adds into each channel's bias, so the result is the exact integer of
docs/quantization.md.

Exact on every machine: |u * w| <= 255 * 128 and the fan-in is at most `requant.MAX_FAN_IN` (2**15), so
every partial sum stays below 2**30 and no int32 lane wraps. Integer sums do not depend on the order of
the additions, so both code paths give the same bits:
- CPUs with AVX-512 VNNI (in the features numba compiles for: NUMBA_CPU_FEATURES, else the host's):
  `vpdpbusd`, 64 u8 x s8 products added in groups of four to 16 int32 lanes by one instruction (its
  non-saturating form);
- every other CPU: portable vector IR (widen to int32, multiply, add the four products of each lane).
numba's on-disk cache is keyed by the CPU name and features, so a cached kernel never crosses paths.
"""

from __future__ import annotations

from collections.abc import Callable

from llvmlite import binding, ir
from numba import types
from numba.core import cgutils, config
from numba.extending import intrinsic

LANES = 16  # output channels per call
TAPS = 4  # fan-in taps per group (the bytes of an input column read together)
TILE = LANES * TAPS  # weight bytes per group

_I8, _I32, _I64 = ir.IntType(8), ir.IntType(32), ir.IntType(64)
_V16 = ir.VectorType(_I32, LANES)
_UNROLL = 4  # independent accumulators of dot16 (a vpdpbusd's latency is several cycles)


def target_features() -> str:
    """The CPU features numba compiles for (its own rule: NUMBA_CPU_FEATURES, else the host's)."""
    if config.CPU_FEATURES is not None:
        return config.CPU_FEATURES
    return binding.get_host_cpu_features().flatten()


def has_vnni() -> bool:
    """Whether `dot16` compiles to AVX-512 VNNI `vpdpbusd` (otherwise to portable vector IR)."""
    return {"+avx512f", "+avx512vnni"} <= set(target_features().split(","))


def _const(value: int) -> ir.Constant:
    return ir.Constant(_I64, value)


def _declare(module: ir.Module, name: str, ret: ir.Type, args: list[ir.Type]) -> ir.Function:
    existing = module.globals.get(name)
    return existing if existing is not None else ir.Function(module, ir.FunctionType(ret, args), name)


Step = Callable[[ir.IRBuilder, ir.Value, ir.Value, ir.Value], ir.Value]


def _step_vnni(b: ir.IRBuilder, acc: ir.Value, x: ir.Value, w: ir.Value) -> ir.Value:
    """acc + the products of the 4 bytes at x (every lane) with the 64 bytes at w: one vpdpbusd."""
    dp = _declare(b.module, "llvm.x86.avx512.vpdpbusd.512", _V16, [_V16, _V16, _V16])
    word = b.load(b.bitcast(x, _I32.as_pointer()), align=1)
    splat = b.shuffle_vector(
        b.insert_element(ir.Constant(_V16, None), word, ir.Constant(_I32, 0)),
        ir.Constant(_V16, None),
        ir.Constant(_V16, [0] * LANES),
    )
    weights = b.load(b.bitcast(w, _V16.as_pointer()), align=1)
    return b.call(dp, [acc, splat, weights])


def _step_portable(b: ir.IRBuilder, acc: ir.Value, x: ir.Value, w: ir.Value) -> ir.Value:
    """The same sum in plain vector IR: u8 widened, s8 widened, multiplied, four products per lane."""
    v4, v64 = ir.VectorType(_I8, TAPS), ir.VectorType(_I8, TILE)
    col = b.zext(b.load(b.bitcast(x, v4.as_pointer()), align=1), ir.VectorType(_I32, TAPS))
    every_lane = ir.Constant(ir.VectorType(_I32, TILE), [t for _ in range(LANES) for t in range(TAPS)])
    cols = b.shuffle_vector(col, col, every_lane)
    weights = b.sext(b.load(b.bitcast(w, v64.as_pointer()), align=1), ir.VectorType(_I32, TILE))
    products = b.mul(cols, weights)
    for t in range(TAPS):
        lane = ir.Constant(_V16, [TAPS * i + t for i in range(LANES)])
        acc = b.add(acc, b.shuffle_vector(products, products, lane))
    return acc


def _step() -> Step:
    return _step_vnni if has_vnni() else _step_portable


def _pointer(context, builder, ty, array, offset, offset_ty) -> ir.Value:
    data = context.make_array(ty)(context, builder, array).data
    at = context.cast(builder, offset, offset_ty, types.int64)
    return builder.bitcast(builder.gep(data, [at]), _I8.as_pointer())


def _lanes(builder: ir.IRBuilder, acc_ptr: ir.Value) -> ir.Value:
    return builder.bitcast(acc_ptr, _V16.as_pointer())


def _bytes(t) -> bool:
    """A 1-d buffer of bytes: an int8 / uint8 array, bytes or a bytearray."""
    return isinstance(t, types.Buffer) and t.ndim == 1 and t.dtype.bitwidth == 8


def _check(x, w, acc) -> bool:
    return (
        all(_bytes(t) for t in (x, w))
        and isinstance(acc, types.Array)
        and acc.dtype == types.int32
    )


@intrinsic
def dot16(typingctx, x, x_off, w, w_off, groups, acc, acc_off):
    """16 lanes of one input column's products (module docstring); no bounds check: the lowering sizes
    every buffer (x: 4 * groups bytes from x_off, w: 64 * groups from w_off, acc: 16 lanes)."""
    if not _check(x, w, acc):
        return None
    sig = types.void(x, x_off, w, w_off, groups, acc, acc_off)
    step = _step()

    def codegen(context, builder, signature, args):
        tx, tx_off, tw, tw_off, tg, tacc, tacc_off = signature.args
        px = _pointer(context, builder, tx, args[0], args[1], tx_off)
        pw = _pointer(context, builder, tw, args[2], args[3], tw_off)
        n = context.cast(builder, args[4], tg, types.int64)
        data = context.make_array(tacc)(context, builder, args[5]).data
        out = builder.gep(data, [context.cast(builder, args[6], tacc_off, types.int64)])
        accs = [cgutils.alloca_once_value(builder, ir.Constant(_V16, None)) for _ in range(_UNROLL)]
        rounds = builder.udiv(n, _const(_UNROLL))
        with cgutils.for_range(builder, rounds) as loop:  # _UNROLL groups, one per accumulator
            first = builder.mul(loop.index, _const(_UNROLL))
            for u, a in enumerate(accs):
                g = builder.add(first, _const(u))
                xg = builder.gep(px, [builder.mul(g, _const(TAPS))])
                wg = builder.gep(pw, [builder.mul(g, _const(TILE))])
                builder.store(step(builder, builder.load(a), xg, wg), a)
        done = builder.mul(rounds, _const(_UNROLL))
        with cgutils.for_range(builder, builder.sub(n, done)) as loop:
            g = builder.add(done, loop.index)
            xg = builder.gep(px, [builder.mul(g, _const(TAPS))])
            wg = builder.gep(pw, [builder.mul(g, _const(TILE))])
            builder.store(step(builder, builder.load(accs[0]), xg, wg), accs[0])
        total = builder.load(accs[0])
        for a in accs[1:]:
            total = builder.add(total, builder.load(a))
        builder.store(total, _lanes(builder, out), align=4)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def dot16x4(typingctx, x, x_off, x_stride, w, w_off, groups, acc, acc_off, acc_stride):
    """`dot16` of four columns x_off + i * x_stride into acc_off + i * acc_stride (i < 4), sharing each
    weight load; no bounds check (the lowering sizes every buffer)."""
    if not _check(x, w, acc):
        return None
    sig = types.void(x, x_off, x_stride, w, w_off, groups, acc, acc_off, acc_stride)
    step = _step()

    def codegen(context, builder, signature, args):
        tx, tx_off, tx_st, tw, tw_off, tg, tacc, tacc_off, tacc_st = signature.args
        px = _pointer(context, builder, tx, args[0], args[1], tx_off)
        x_stride = context.cast(builder, args[2], tx_st, types.int64)
        pw = _pointer(context, builder, tw, args[3], args[4], tw_off)
        n = context.cast(builder, args[5], tg, types.int64)
        data = context.make_array(tacc)(context, builder, args[6]).data
        out = builder.gep(data, [context.cast(builder, args[7], tacc_off, types.int64)])
        acc_stride = context.cast(builder, args[8], tacc_st, types.int64)
        accs = [cgutils.alloca_once_value(builder, ir.Constant(_V16, None)) for _ in range(4)]
        with cgutils.for_range(builder, n) as loop:
            wg = builder.gep(pw, [builder.mul(loop.index, _const(TILE))])
            col = builder.mul(loop.index, _const(TAPS))
            for i, a in enumerate(accs):
                xg = builder.gep(px, [builder.add(builder.mul(x_stride, _const(i)), col)])
                builder.store(step(builder, builder.load(a), xg, wg), a)
        for i, a in enumerate(accs):
            lane = builder.gep(out, [builder.mul(acc_stride, _const(i))])
            builder.store(builder.load(a), _lanes(builder, lane), align=4)
        return context.get_dummy_value()

    return sig, codegen


def _block_copy(name: str, doc: str, sign: int):
    """An intrinsic `name`(dst, at, src, start, blocks) copying 16-byte blocks, each byte xor `sign`."""

    def typer(typingctx, dst, at, src, start, blocks):
        if not all(_bytes(t) for t in (dst, src)):
            return None
        sig = types.void(dst, at, src, start, blocks)

        def codegen(context, builder, signature, args):
            td, tat, ts, tstart, tb = signature.args
            pd = _pointer(context, builder, td, args[0], args[1], tat)
            ps = _pointer(context, builder, ts, args[2], args[3], tstart)
            block = ir.VectorType(_I8, LANES)
            with cgutils.for_range(builder, context.cast(builder, args[4], tb, types.int64)) as loop:
                at16 = builder.mul(loop.index, _const(LANES))
                v = builder.load(builder.bitcast(builder.gep(ps, [at16]), block.as_pointer()), align=1)
                if sign:
                    v = builder.xor(v, ir.Constant(block, [sign] * LANES))
                builder.store(v, builder.bitcast(builder.gep(pd, [at16]), block.as_pointer()), align=1)
            return context.get_dummy_value()

        return sig, codegen

    typer.__name__ = typer.__qualname__ = name
    typer.__doc__ = doc
    return intrinsic(typer)


copy16 = _block_copy(
    "copy16",
    """dst[at : at + 16 * blocks] = src[start : start + 16 * blocks], one unaligned 16-byte load and
    store per block (an im2col run rounded up; the caller allocates the bytes past it). No bounds check.""",
    0,
)
flip16 = _block_copy("flip16", "`copy16` with each byte's sign bit flipped (int8 x -> u8 x + 128).", 0x80)

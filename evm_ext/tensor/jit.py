"""The compiled engine: one numba-compiled call runs a whole lowered model (integer arithmetic only).

`execute(x, y, w8, i64)` interprets a *program* made by `evm_ext.model.lowering` from a model's ops: `i64`
holds a header, one fixed-width record per op and the int64 constants (folded biases, requantization
multipliers, shifts and rounding halves, tables, index maps); `w8` holds the int8 weights and lookup
tables. Each sample's values live in one int8 arena at offsets fixed by the lowering.

Every kernel computes the engine's rule exactly as written in `evm_ext.tensor` (docs/quantization.md):
int8 x int8 products summed in int32 (|sum| < 2**30 by `requant.MAX_FAN_IN`), the folded bias added and
requantized in int64 (`((acc * M + 2**(s-1)) >> s) + zp`, clamped). The GEMMs (fully connected, conv,
transposed conv) run on `simd.dot16`: their input columns are stored as u8 = x + 128 and the lowering
subtracts 128 * sum(w) (transposed conv: (zp + 128) * sum(w)) in the bias, which gives the same integer.
Integer sums do not depend on the summation order, so the results are bit-identical to the numpy engine
on every machine (tests compare the two on every op kind and every shipped model, on both `simd` code
paths). No floating point is used anywhere here.

Kernels compile on first use and are cached on disk by numba (`cache=True`, in `__pycache__` or
NUMBA_CACHE_DIR), so a process that has run them before loads them instead of compiling. Bounds checks
are off: every index is fixed by the lowering from the decoded (validated) shapes, and the arena and
scratch buffers are sized from the same shapes.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from evm_ext.tensor.simd import LANES, TAPS, TILE, copy16, dot16, dot16x4, flip16

# Op kinds of the program (not the format's op codes: a reshape has no record).
K_FC, K_CONV, K_CONV_T, K_MAXPOOL, K_AVGPOOL, K_LOOKUP, K_ADD, K_MUL = 1, 2, 3, 4, 5, 6, 7, 8
K_CONCAT, K_TRANSPOSE, K_SOFTMAX, K_ARGMAX = 9, 10, 11, 12

# Header of the program, at i64[0:HEADER].
H_OPS, H_ARENA, H_IN, H_OUT, H_IN_SIZE, H_OUT_SIZE = 0, 1, 2, 3, 4, 5
HEADER = 6
RECORD = 56  # int64 fields per op record; fields 0-3 are kind, input 0, input 1, output (arena offsets)
F_KIND, F_IN0, F_IN1, F_OUT = 0, 1, 2, 3

# Conv / transposed conv / pool geometry fields (shared layout).
G_CIN, G_H, G_W, G_COUT, G_GROUPS, G_KH, G_KW, G_SH, G_SW, G_DH, G_DW = 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14
G_PT, G_PL, G_PB, G_PR, G_OH, G_OW = 15, 16, 17, 18, 19, 20
# GEMM ops: weight offset in w8 (tiled, `lowering.tile_weights`), per-channel constants offset in i64 (4
# arrays of C: bias, M, half, shift), input zero point, output zero point and clamp, transposed conv mode
# and its table (in i64: per phase taps a, taps b, weight offset, bias offset; or the scatter's flip sums).
P_WEIGHT, P_CHAN, P_ZP_IN, P_ZP_OUT, P_LO, P_HI, P_MODE, P_ROWS = 21, 22, 23, 24, 25, 26, 27, 28
# GEMM inputs are u8 = x ^ FLIP (x + 128), against s8 weights (`simd`); the lowering folds -128 * sum(w).
FLIP = 0x80
# GEMMs over many output positions run in blocks of this many (im2col and accumulators per block), so
# their scratch stays ~BLOCK_POSITIONS * (fan-in + 4 * channels) bytes whatever the image size.
BLOCK_POSITIONS = 256
# `_scratch` places the GEMM buffers at these offsets from a page boundary.
PAGE = 4096
SKEW_INPUT, SKEW_COLS, SKEW_ACC = 0, 1088, 2176
# Transposed conv modes: per output phase a GEMM (dilation 1, inputs not too small to fill the phases'
# columns); or products per input position added at their output positions.
MODE_PHASES, MODE_SCATTER, MODE_PHASES_DIRECT = 0, 1, 2
# Conv modes: im2col and a GEMM per group; or, for one input channel per group (depthwise convs, a first
# layer on one channel), each tap's products added straight from the padded input plane.
MODE_GEMM, MODE_DIRECT = 0, 1
# A conv whose output only a max pool reads runs fused with it: P_POOL is 1 and the pool's geometry
# fields are at FUSED_POOL + G_* (the record's output is the pool's).
P_POOL = 29
FUSED_POOL = 33
# Fully connected: fan-in, channels (with P_WEIGHT, P_CHAN, P_ZP_OUT, P_LO, P_HI).
FC_K, FC_C = 4, 5
# Elementwise ops: element count, index maps (offset in i64, -1: identity), zero points, multipliers.
E_SIZE, E_MAP_A, E_MAP_B, E_ZA, E_ZB, E_MA, E_MB, E_M, E_SHIFT, E_ZP, E_LO, E_HI, E_TABLE = (
    4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
)
# Avg pool: count_include_pad, input zero point (geometry fields as above).
A_INCLUDE_PAD, A_ZP = 21, 22
# Axis ops (concat, softmax, argmax): outer, axis length, inner; concat parts list offset (in i64: per
# part input offset, axis length, zero point, M, shift) and count; softmax table offset (in i64).
X_OUTER, X_LEN, X_INNER, X_PARTS, X_NPARTS, X_TABLE = 4, 5, 6, 7, 8, 9

_JIT = {"cache": True, "nogil": True, "boundscheck": False, "error_model": "numpy"}


@njit(**_JIT)
def _requant(acc: int, m: int, half: int, shift: int, zp: int, lo: int, hi: int) -> int:
    """((acc * M + 2**(s-1)) >> s) + zp clamped to [lo, hi], in int64 (`requant.Requantizer`)."""
    return min(max(((acc * m + half) >> shift) + zp, lo), hi)


@njit(**_JIT)
def _requant_row(acc, out, bias, m, half, shift, zp, lo, hi):
    """out[i] = requant(acc[i] + bias) for one channel's int32 accumulators (a vectorizable loop)."""
    for i in range(acc.size):
        out[i] = min(max((((np.int64(acc[i]) + bias) * m + half) >> shift) + zp, lo), hi)


@njit(**_JIT)
def _u(index):
    """An index as uint64: numba checks a signed index for wrap-around (-1 is the last element) at every
    access, which also stops LLVM from vectorizing the loop; an unsigned one it uses as it is. Every
    index passed here is a non-negative offset fixed by the lowering."""
    return np.uint64(index)


@njit(**_JIT)
def _scratch(nbytes, skew):
    """A uint8 buffer of nbytes (not initialized) whose address is `skew` past a page boundary.

    The GEMM's buffers get different skews: two streams whose addresses agree modulo 4 KiB make the
    CPU stall loads behind unrelated stores ("4K aliasing"), and a 64-byte access that straddles two
    cache lines costs two. With malloc's own placement, timings then differed 2x between processes.
    """
    buf = np.empty(nbytes + PAGE + skew, np.uint8)
    start = (skew - buf.ctypes.data) % PAGE
    return buf[start : start + nbytes]


@njit(**_JIT)
def _up(n, multiple):
    """n rounded up to a multiple (the padded fan-in: TAPS; the padded channel count: LANES)."""
    return (n + multiple - 1) // multiple * multiple


@njit(**_JIT)
def _gemm(cols, kp, positions, w, w_base, cp, acc):
    """acc[p * cp + c] = sum_j u8(cols[p * kp + j]) * s8(W[c, j]), W tiled at w_base (`simd`: cp / 16
    tiles of kp / 4 groups): per weight tile, the positions four at a time, then one at a time."""
    groups = kp // TAPS
    p4 = positions - positions % 4
    for t in range(cp // LANES):
        wt = w_base + t * groups * TILE
        for p in range(0, p4, 4):
            dot16x4(cols, p * kp, kp, w, wt, groups, acc, p * cp + t * LANES, cp)
        for p in range(p4, positions):
            dot16(cols, p * kp, w, wt, groups, acc, p * cp + t * LANES)


@njit(**_JIT)
def _fully_connected(r, arena, w8, i64):
    k, c = r[FC_K], r[FC_C]
    kp, cp = _up(k, TAPS), _up(c, LANES)
    x = _scratch(kp + LANES, SKEW_COLS)  # the bytes past k meet zero weights (the arena has slack)
    flip16(x, 0, arena, r[F_IN0], (k + LANES - 1) // LANES)
    acc = _scratch(4 * cp, SKEW_ACC).view(np.int32)
    _gemm(x, kp, 1, w8, r[P_WEIGHT], cp, acc)
    ch, out = _u(r[P_CHAN]), r[F_OUT]
    zp, lo, hi = r[P_ZP_OUT], r[P_LO], r[P_HI]
    for o in range(c):  # contiguous: vectorized (min/max, no data-dependent branch)
        v = np.int64(acc[o]) + i64[ch + _u(o)]
        v = (v * i64[ch + _u(c + o)] + i64[ch + _u(2 * c + o)]) >> i64[ch + _u(3 * c + o)]
        arena[_u(out + o)] = min(max(v + zp, lo), hi)


@njit(**_JIT)
def _flipped_hwc(arena, src, cin, h, w, top, left, hp, wp, fill):
    """The (cin, h, w) input as u8 (sign bit flipped), channels last in a (hp, wp, cin) frame whose
    border holds `fill` (the flipped zero point), plus LANES bytes of slack for the last column's run."""
    buf = _scratch(hp * wp * cin + LANES, SKEW_INPUT)
    buf[:] = fill
    x8 = arena.view(np.uint8)
    if cin < w:  # the longer dimension innermost: short loops cost more than their iterations
        for c in range(cin):
            for y in range(h):
                first, at = ((y + top) * wp + left) * cin + c, src + (c * h + y) * w
                for x in range(w):
                    buf[_u(first + x * cin)] = x8[_u(at + x)] ^ FLIP
        return buf
    for y in range(h):
        for x in range(w):
            first, at = ((y + top) * wp + left + x) * cin, src + y * w + x
            for c in range(cin):
                buf[_u(first + c)] = x8[_u(at + c * h * w)] ^ FLIP
    return buf


@njit(**_JIT)
def _copy_run(dst, at, src, start, run):
    """dst[at : at + run] = src[start : start + run], copied in whole 16-byte blocks (`simd.copy16`):
    the up to 15 bytes past the run are rewritten by the next run, or fall in the fan-in padding (zero
    weights: they never count) or in the LANES bytes of slack that `_conv`, `_conv_transpose` and
    `_flipped_hwc` allocate. Runs are written in increasing order, so every byte ends up right."""
    copy16(dst, at, src, start, (run + LANES - 1) // LANES)


@njit(**_JIT)
def _requant_positions(r, acc, cp, positions, c0, biases, ch, i64, arena, out, plane, where):
    """Requantize a GEMM's accumulators acc[p * cp + cg] for channels c0 + cg of one group (bias at
    i64[biases + c], M, half, shift at the record's per-channel constants `ch`) into
    arena[out + c * plane + where[p]]; channels innermost: long contiguous loops over the accumulators."""
    cout, cout_g = r[G_COUT], r[G_COUT] // r[G_GROUPS]
    zp, lo, hi = r[P_ZP_OUT], r[P_LO], r[P_HI]
    row = np.empty(cout_g, np.int8)
    for p in range(positions):
        at, to = p * cp, out + where[p] + c0 * plane
        # contiguous in the channel: vectorized, so the clamps are min/max instructions, not branches
        # that mispredict on the data (they cost the DCGAN generator a third of its time)
        for cg in range(cout_g):
            c = _u(c0 + cg)
            v = np.int64(acc[_u(at + cg)]) + i64[_u(biases) + c]
            v = (v * i64[_u(ch + cout) + c] + i64[_u(ch + 2 * cout) + c]) >> i64[_u(ch + 3 * cout) + c]
            row[cg] = min(max(v + zp, lo), hi)
        for cg in range(cout_g):
            arena[_u(to + cg * plane)] = row[cg]


@njit(**_JIT)
def _conv_direct(r, arena, w8, i64, pooled, scratch):
    """A conv whose groups each read one input channel (MODE_DIRECT): per output channel, each tap's
    weight times its shifted input plane, added into int32 accumulators over the plane (flipped u8
    inputs; the bias holds -128 * sum(w) as for the GEMM). At stride 1 a tap is one long loop over the
    padded width (the columns past ow are computed and never read); otherwise a loop per output row."""
    cin, h, w, cout, groups = r[G_CIN], r[G_H], r[G_W], r[G_COUT], r[G_GROUPS]
    kh, kw, sh, sw, dh, dw = r[G_KH], r[G_KW], r[G_SH], r[G_SW], r[G_DH], r[G_DW]
    pt, pl, pb, pr, oh, ow = r[G_PT], r[G_PL], r[G_PB], r[G_PR], r[G_OH], r[G_OW]
    hp, wp = h + pt + pb, w + pl + pr
    cout_g, wide = cout // groups, sh == 1 and sw == 1
    width = wp if wide else ow
    planes = _scratch(cin * hp * wp + dw * kw + LANES, SKEW_INPUT)
    planes[:] = np.uint8(r[P_ZP_IN]) ^ FLIP
    x8 = arena.view(np.uint8)
    for c in range(cin):
        for y in range(h):
            flip16(planes, (c * hp + y + pt) * wp + pl, x8, r[F_IN0] + (c * h + y) * w, w // LANES)
            for x in range(w // LANES * LANES, w):
                planes[_u((c * hp + y + pt) * wp + pl + x)] = x8[_u(r[F_IN0] + (c * h + y) * w + x)] ^ FLIP
    acc = _scratch(4 * oh * width, SKEW_ACC).view(np.int32)
    ch, out, taps = r[P_CHAN], r[F_OUT], kh * kw
    zp_out, lo, hi = r[P_ZP_OUT], r[P_LO], r[P_HI]
    for c in range(cout):
        plane = (c // cout_g) * hp * wp
        acc[:] = 0
        for i in range(kh):
            for j in range(kw):
                wv = np.int32(w8[_u(r[P_WEIGHT] + c * taps + i * kw + j)])
                if wide:
                    base = plane + i * dh * wp + j * dw
                    for t in range(oh * wp):
                        acc[_u(t)] += wv * np.int32(planes[_u(base + t)])
                    continue
                for y in range(oh):
                    base, row = plane + (y * sh + i * dh) * wp + j * dw, y * ow
                    for x in range(ow):
                        acc[_u(row + x)] += wv * np.int32(planes[_u(base + x * sw)])
        bias, m = i64[ch + c], i64[ch + cout + c]
        half, shift = i64[ch + 2 * cout + c], i64[ch + 3 * cout + c]
        if r[P_POOL]:  # max pool the accumulators, then requantize (`Conv.then_max_pool`)
            _pool_plane(r, FUSED_POOL, acc, width, pooled, False, scratch)
            n = pooled.size
            dst = arena[out + c * n : out + (c + 1) * n]
            _requant_row(pooled, dst, bias, m, half, shift, zp_out, lo, hi)
            continue
        for y in range(oh):
            dst = arena[out + (c * oh + y) * ow : out + (c * oh + y + 1) * ow]
            _requant_row(acc[y * width : y * width + ow], dst, bias, m, half, shift, zp_out, lo, hi)


@njit(**_JIT)
def _conv(r, arena, w8, i64):
    """Conv as one GEMM per group over channels-last im2col columns (taps in (i, j, ci) order, each tap
    row one contiguous run of the padded input), requantized per channel (fused max pool: P_POOL)."""
    cin, h, w, cout, groups = r[G_CIN], r[G_H], r[G_W], r[G_COUT], r[G_GROUPS]
    kh, kw, sh, sw, dh, dw = r[G_KH], r[G_KW], r[G_SH], r[G_SW], r[G_DH], r[G_DW]
    pt, pl, pb, pr, oh, ow = r[G_PT], r[G_PL], r[G_PB], r[G_PR], r[G_OH], r[G_OW]
    hp, wp = h + pt + pb, w + pl + pr
    cin_g, cout_g = cin // groups, cout // groups
    k = cin_g * kh * kw
    kp, cp, q = _up(k, TAPS), _up(cout_g, LANES), oh * ow
    ch, out, w_base = r[P_CHAN], r[F_OUT], r[P_WEIGHT]
    zp_out, lo, hi = r[P_ZP_OUT], r[P_LO], r[P_HI]
    pool = r[P_POOL]
    pooled = np.empty(r[FUSED_POOL + G_OH] * r[FUSED_POOL + G_OW] if pool else 0, np.int32)
    scratch = _pool_scratch(r, FUSED_POOL)
    if r[P_MODE] == MODE_DIRECT:
        _conv_direct(r, arena, w8, i64, pooled, scratch)
        return
    planes = np.empty(q * cout_g if pool else 0, np.int32)  # a fused pool's accumulators, per channel
    hwc = _flipped_hwc(arena, r[F_IN0], cin, h, w, pt, pl, hp, wp, np.uint8(r[P_ZP_IN]) ^ FLIP)
    block = min(q, BLOCK_POSITIONS)  # im2col and GEMM per block of output positions: bounded scratch
    cols = _scratch(block * kp + LANES, SKEW_COLS)
    acc = _scratch(4 * block * cp, SKEW_ACC).view(np.int32)
    where = np.arange(block)
    whole = groups == 1 and dw == 1  # one tap row is one contiguous run of kw * cin bytes
    run, runs = (kw * cin, 1) if whole else (cin_g, kw)  # (no range step: its trip count divides)
    for g in range(groups):
        for p0 in range(0, q, block):
            n = min(block, q - p0)
            y, x = p0 // ow, p0 % ow
            for p in range(n):  # im2col (P, K): position (y, x), column (i, jj, ci) of this group
                for i in range(kh):
                    base = ((y * sh + i * dh) * wp + x * sw) * cin + g * cin_g
                    for jj in range(runs):
                        _copy_run(cols, p * kp + (i * kw + jj) * cin_g, hwc, base + jj * dw * cin, run)
                x += 1
                if x == ow:
                    y, x = y + 1, 0
            _gemm(cols, kp, n, w8, w_base + g * cp * kp, cp, acc)
            if not pool:
                _requant_positions(r, acc, cp, n, g * cout_g, ch, ch, i64, arena, out + p0, q, where)
                continue
            for cg in range(cout_g):
                for p in range(n):
                    planes[_u(cg * q + p0 + p)] = acc[_u(p * cp + cg)]
        if not pool:
            continue
        for cg in range(cout_g):  # max pool the accumulators, then requantize (`Conv.then_max_pool`)
            c = g * cout_g + cg
            bias, m = i64[ch + c], i64[ch + cout + c]
            half, shift = i64[ch + 2 * cout + c], i64[ch + 3 * cout + c]
            plane = planes[cg * q : (cg + 1) * q]
            _pool_plane(r, FUSED_POOL, plane, ow, pooled, False, scratch)
            n = pooled.size
            dst = arena[out + c * n : out + (c + 1) * n]
            _requant_row(pooled, dst, bias, m, half, shift, zp_out, lo, hi)


@njit(**_JIT)
def _phase_span(r, stride, pad, size):
    """Along one axis, the first output index of phase r of a transposed conv and how many it has."""
    first = (r - pad) % stride
    return first, max(0, (size - first + stride - 1) // stride)


@njit(**_JIT)
def _phases_direct(r, arena, w8, i64, phases, top, left, hp, wp, fill):
    """MODE_PHASES_DIRECT: each phase of a transposed conv with few output channels per group, as the
    taps (a, b, ci) of its weight block, each weight times the shifted input plane added into int32
    accumulators over the phase's rows at the padded width (the columns past n_x are never read).
    The planes are the flipped input (CHW) with the zero point in the borders, as for MODE_PHASES."""
    cin, h, w, cout, groups = r[G_CIN], r[G_H], r[G_W], r[G_COUT], r[G_GROUPS]
    sh, sw, pt, pl, oh, ow = r[G_SH], r[G_SW], r[G_PT], r[G_PL], r[G_OH], r[G_OW]
    cin_g, cout_g = cin // groups, cout // groups
    ch, out = r[P_CHAN], r[F_OUT]
    zp_out, lo, hi = r[P_ZP_OUT], r[P_LO], r[P_HI]
    planes = _scratch(cin * hp * wp + wp + LANES, SKEW_INPUT)
    planes[:] = fill
    x8 = arena.view(np.uint8)
    for c in range(cin):
        for y in range(h):
            row, src = (c * hp + top + y) * wp + left, r[F_IN0] + (c * h + y) * w
            for x in range(w):
                planes[_u(row + x)] = x8[_u(src + x)] ^ FLIP
    acc = _scratch(4 * (oh // sh + 1) * wp, SKEW_ACC).view(np.int32)
    row = np.empty(wp, np.int8)
    for ry in range(sh):
        oy0, n_y = _phase_span(ry, sh, pt, oh)
        for rx in range(sw):
            ox0, n_x = _phase_span(rx, sw, pl, ow)
            ph = (ry * sw + rx) * 4
            na, nb, weights, biases = phases[ph], phases[ph + 1], phases[ph + 2], phases[ph + 3]
            qy0, qx0 = (oy0 + pt) // sh, (ox0 + pl) // sw
            k, span = na * nb * cin_g, n_y * wp
            for c in range(cout):
                g = c // cout_g
                acc[:span] = 0
                for a in range(na):
                    for b in range(nb):  # tap (a, b) reads input (qy - a, qx - (nb - 1) + b)
                        first = (top + qy0 - a) * wp + left + qx0 - (nb - 1) + b
                        for ci in range(cin_g):
                            wv = np.int32(w8[_u(weights + c * k + (a * nb + b) * cin_g + ci)])
                            base = (g * cin_g + ci) * hp * wp + first
                            for t in range(span):
                                acc[_u(t)] += wv * np.int32(planes[_u(base + t)])
                bias, m = i64[biases + c], i64[ch + cout + c]
                half, shift = i64[ch + 2 * cout + c], i64[ch + 3 * cout + c]
                for py in range(n_y):
                    line = acc[py * wp : py * wp + n_x]
                    _requant_row(line, row[:n_x], bias, m, half, shift, zp_out, lo, hi)
                    dst = out + (c * oh + oy0 + py * sh) * ow + ox0
                    for px in range(n_x):
                        arena[_u(dst + px * sw)] = row[px]


@njit(**_JIT)
def _conv_transpose(r, arena, w8, i64):
    """Transposed conv on the input as u8 channels last, its border holding the (flipped) zero point.

    MODE_PHASES (dilation 1): the outputs of one phase (oy + pt) % sh, (ox + pl) % sw are read by the same
    kernel taps i = ry + a * sh, j = rx + b * sw from input (qy - a, qx - b), q = (o + pad) // stride:
    one GEMM per phase over (a, b, ci) im2col columns (a run per tap row; one weight block per phase, b
    reversed so that the input columns of a tap row increase, and a bias per phase: `lowering`).
    MODE_SCATTER: per input position, its products with every (co, i, j) weight row (a GEMM over the
    input channels), each added at its output position.
    """
    cin, h, w, cout, groups = r[G_CIN], r[G_H], r[G_W], r[G_COUT], r[G_GROUPS]
    kh, kw, sh, sw, dh, dw = r[G_KH], r[G_KW], r[G_SH], r[G_SW], r[G_DH], r[G_DW]
    pt, pl, oh, ow = r[G_PT], r[G_PL], r[G_OH], r[G_OW]
    cin_g, cout_g = cin // groups, cout // groups
    ch, out, w_base = r[P_CHAN], r[F_OUT], r[P_WEIGHT]
    zp_out, lo, hi = r[P_ZP_OUT], r[P_LO], r[P_HI]
    fill = np.uint8(r[P_ZP_IN]) ^ FLIP
    if r[P_MODE] == MODE_SCATTER:
        hwc = _flipped_hwc(arena, r[F_IN0], cin, h, w, 0, 0, h, w, fill)
        taps = cout_g * kh * kw  # weight rows (co, i, j) of one group, each over its input channels
        kp, tp = _up(cin_g, TAPS), _up(taps, LANES)
        block = min(h * w, BLOCK_POSITIONS)  # input positions per GEMM: bounded scratch
        cols = _scratch(block * kp, SKEW_COLS)
        products = _scratch(4 * block * tp, SKEW_ACC).view(np.int32)
        total = np.zeros(cout * oh * ow, np.int32)
        inside = np.empty((w, 2), np.int64)  # per input column x, the taps j whose output is inside
        for x in range(w):
            inside[x] = _inside(x * sw - pl, dw, kw, ow)
        for g in range(groups):
            flips = i64[r[P_ROWS] + g * taps : r[P_ROWS] + (g + 1) * taps]  # (zp + 128) * sum_ci W[t]
            for p0 in range(0, h * w, block):
                n = min(block, h * w - p0)
                for p in range(n):
                    for ci in range(cin_g):
                        cols[p * kp + ci] = hwc[(p0 + p) * cin + g * cin_g + ci]
                _gemm(cols, kp, n, w8, w_base + g * tp * kp, tp, products)
                for p in range(n):
                    y, x = (p0 + p) // w, (p0 + p) % w
                    j_lo, j_hi = inside[x, 0], inside[x, 1]  # the taps j landing inside the row
                    for cg in range(cout_g):
                        plane = (g * cout_g + cg) * oh * ow
                        for i in range(kh):
                            oy = y * sh + i * dh - pt
                            if oy < 0 or oy >= oh:
                                continue
                            first = (cg * kh + i) * kw
                            at, row = plane + oy * ow + x * sw - pl, p * tp + first
                            for j in range(j_lo, j_hi):
                                v = products[_u(row + j)] - np.int32(flips[_u(first + j)])
                                total[_u(at + j * dw)] += v
        n = oh * ow
        for c in range(cout):
            rq = (i64[ch + c], i64[ch + cout + c], i64[ch + 2 * cout + c], i64[ch + 3 * cout + c])
            dst = arena[out + c * n : out + (c + 1) * n]
            _requant_row(total[c * n : (c + 1) * n], dst, *rq, zp_out, lo, hi)
        return
    phases = i64[r[P_ROWS] : r[P_ROWS] + 4 * sh * sw]  # per phase: taps a, taps b, weights, biases
    # the input with borders wide enough for every phase's taps
    top, left = (kh + sh - 1) // sh, (kw + sw - 1) // sw
    bottom, right = max(0, (oh - 1 + pt) // sh + 1 - h), max(0, (ow - 1 + pl) // sw + 1 - w)
    hp, wp = top + h + bottom, left + w + right
    if r[P_MODE] == MODE_PHASES_DIRECT:
        _phases_direct(r, arena, w8, i64, phases, top, left, hp, wp, fill)
        return
    xp = _flipped_hwc(arena, r[F_IN0], cin, h, w, top, left, hp, wp, fill)
    cp = _up(cout_g, LANES)
    for ry in range(sh):
        oy0, n_y = _phase_span(ry, sh, pt, oh)  # first output row of the phase, and its rows
        for rx in range(sw):
            ox0, n_x = _phase_span(rx, sw, pl, ow)
            ph = (ry * sw + rx) * 4
            na, nb, weights, biases = phases[ph], phases[ph + 1], phases[ph + 2], phases[ph + 3]
            k, positions = na * nb * cin_g, n_y * n_x
            kp = _up(k, TAPS)
            where = np.empty(positions, np.int64)  # each position's offset in an output plane
            for py in range(n_y):
                for px in range(n_x):
                    where[py * n_x + px] = (oy0 + py * sh) * ow + ox0 + px * sw
            block = min(positions, BLOCK_POSITIONS)  # im2col and GEMM per block of positions
            cols = _scratch(block * kp + LANES, SKEW_COLS)
            acc = _scratch(4 * block * cp, SKEW_ACC).view(np.int32)
            # columns: per tap row one run of nb * cin inputs (groups: one run of cin_g per tap)
            runs, run = (1, nb * cin) if groups == 1 else (nb, cin_g)
            qy0, qx0 = (oy0 + pt) // sh, (ox0 + pl) // sw  # input row, column of the first output
            for g in range(groups):
                for p0 in range(0, positions, block):
                    n = min(block, positions - p0)
                    py, px = p0 // n_x, p0 % n_x
                    for p in range(n):
                        first = ((top + qy0 + py) * wp + left - (nb - 1) + qx0 + px) * cin + g * cin_g
                        for a in range(na):
                            for b in range(runs):
                                at, start = p * kp + (a * nb + b) * cin_g, first - a * wp * cin + b * cin
                                _copy_run(cols, at, xp, start, run)
                        px += 1
                        if px == n_x:
                            py, px = py + 1, 0
                    if k:
                        _gemm(cols, kp, n, w8, weights + g * cp * kp, cp, acc)
                    else:  # no tap of this phase reads the input: the bias alone
                        acc[:] = 0
                    at = where[p0 : p0 + n]
                    _requant_positions(r, acc, cp, n, g * cout_g, biases, ch, i64, arena, out, oh * ow, at)


@njit(**_JIT)
def _inside(start, dilation, kernel, size):
    """The taps t in [lo, hi) of a window whose tap t reads index start + t * dilation of [0, size)."""
    return max(0, -(start // dilation)), min(kernel, (size - 1 - start) // dilation + 1)


@njit(**_JIT)
def _pool_scratch(r, g):
    """Buffers of `_pool_plane` for the pool geometry at r[g + ...]: a combined input row, the output
    row, the taps counted per output column, and per kernel column the output columns reading inside."""
    w, kw, sw, dw, pl, ow = r[g + G_W], r[g + G_KW], r[g + G_SW], r[g + G_DW], r[g + G_PL], r[g + G_OW]
    columns = np.empty((kw, 2), np.int64)
    for j in range(kw):
        columns[j] = _inside(j * dw - pl, sw, ow, w)
    return np.empty(w, np.int32), np.empty(ow, np.int32), np.empty(ow, np.int32), columns


@njit(**_JIT)
def _pool_plane(r, g, plane, stride, dst, average, scratch):
    """Pool one channel: input row y is plane[y * stride:][:w], output (oh, ow) into dst.

    Max (padding never chosen: every window holds a real element, `MaxPool`) or the integer mean
    rounded half toward +inf, padding counted as the zero point when count_include_pad. Separable, with
    the long loops innermost: the window's input rows are combined over the whole row, then its columns.
    """
    h, w, kh, kw = r[g + G_H], r[g + G_W], r[g + G_KH], r[g + G_KW]
    sh, sw, dh, dw = r[g + G_SH], r[g + G_SW], r[g + G_DH], r[g + G_DW]
    pt, pl, oh, ow = r[g + G_PT], r[g + G_PL], r[g + G_OH], r[g + G_OW]
    include_pad, zp = r[g + A_INCLUDE_PAD], r[g + A_ZP]
    rows, acc, count, columns = scratch
    if kh == kw == sh == sw == 2 and dh == dw == 1 and not (pt or pl or r[g + G_PB] or r[g + G_PR]):
        for y in range(oh):  # the common 2x2 window, stride 2: unrolled
            top, bottom, out = plane[2 * y * stride :], plane[(2 * y + 1) * stride :], dst[y * ow :]
            for x in range(ow):
                if average:
                    total = np.int64(top[2 * x]) + top[2 * x + 1] + bottom[2 * x] + bottom[2 * x + 1]
                    out[x] = (2 * total + 4) // 8
                else:
                    out[x] = max(max(top[2 * x], top[2 * x + 1]), max(bottom[2 * x], bottom[2 * x + 1]))
        return
    for y in range(oh):
        i_lo, i_hi = _inside(y * sh - pt, dh, kh, h)
        first = plane[(y * sh + i_lo * dh - pt) * stride :]
        for x in range(w):
            rows[x] = first[x]
        for i in range(i_lo + 1, i_hi):
            row = plane[(y * sh + i * dh - pt) * stride :]
            if average:
                for x in range(w):
                    rows[x] += row[x]
            else:
                for x in range(w):
                    rows[x] = max(rows[x], np.int32(row[x]))
        acc[:] = 0 if average else np.iinfo(np.int32).min
        count[:] = 0
        for j in range(kw):
            x_lo, x_hi = columns[j]
            taps = rows[j * dw - pl + x_lo * sw :]
            if average:
                for x in range(x_hi - x_lo):
                    acc[x_lo + x] += taps[x * sw]
                    count[x_lo + x] += 1
            else:
                for x in range(x_hi - x_lo):
                    acc[x_lo + x] = max(acc[x_lo + x], taps[x * sw])
        out = dst[y * ow : (y + 1) * ow]
        if not average:
            for x in range(ow):
                out[x] = acc[x]
            continue
        n_rows = np.int64(i_hi - i_lo)
        for x in range(ow):
            total, n = np.int64(acc[x]), n_rows * count[x]
            if include_pad:
                total += (kh * kw - n) * zp
                n = np.int64(kh * kw)
            out[x] = (2 * total + n) // (2 * n)


@njit(**_JIT)
def _pool(r, arena, average):
    c_n, h, w, oh, ow = r[G_CIN], r[G_H], r[G_W], r[G_OH], r[G_OW]
    src, out = r[F_IN0], r[F_OUT]
    scratch = _pool_scratch(r, 0)
    for c in range(c_n):
        plane = arena[src + c * h * w : src + (c + 1) * h * w]
        _pool_plane(r, 0, plane, w, arena[out + c * oh * ow : out + (c + 1) * oh * ow], average, scratch)


@njit(**_JIT)
def _elementwise(r, arena, w8, i64):
    kind, n, out = r[F_KIND], r[E_SIZE], r[F_OUT]
    a, b, map_a, map_b = r[F_IN0], r[F_IN1], r[E_MAP_A], r[E_MAP_B]
    for i in range(n):
        if kind == K_LOOKUP:
            arena[out + i] = w8[r[E_TABLE] + np.int64(arena[a + i]) + 128]
            continue
        if kind == K_TRANSPOSE:
            arena[out + i] = arena[a + i64[map_a + i]]
            continue
        xa = np.int64(arena[a + (i if map_a < 0 else i64[map_a + i])]) - r[E_ZA]
        xb = np.int64(arena[b + (i if map_b < 0 else i64[map_b + i])]) - r[E_ZB]
        if kind == K_ADD:
            acc = xa * r[E_MA] + xb * r[E_MB]
            m = np.int64(1)
        else:
            acc = xa * xb
            m = r[E_M]
        shift = r[E_SHIFT]
        arena[out + i] = _requant(acc, m, np.int64(1) << (shift - 1), shift, r[E_ZP], r[E_LO], r[E_HI])


@njit(**_JIT)
def _concat(r, arena, i64):
    outer, out_len, inner, parts, n_parts = r[X_OUTER], r[X_LEN], r[X_INNER], r[X_PARTS], r[X_NPARTS]
    zp, out = r[E_ZP], r[F_OUT]
    start = 0
    for p in range(n_parts):
        rec = parts + 5 * p
        src, length, z, m, shift = i64[rec], i64[rec + 1], i64[rec + 2], i64[rec + 3], i64[rec + 4]
        half = np.int64(1) << (shift - 1)
        block = length * inner
        for o in range(outer):
            for i in range(block):
                v = np.int64(arena[src + o * block + i]) - z
                dst = out + (o * out_len + start) * inner + i
                arena[dst] = _requant(v, m, half, shift, zp, -128, 127)
        start += length


@njit(**_JIT)
def _axis(r, arena, i64):
    """Softmax (`tensor.softmax.softmax`) or ArgMax (first maximum) along an axis."""
    outer, length, inner, src, out = r[X_OUTER], r[X_LEN], r[X_INNER], r[F_IN0], r[F_OUT]
    table = r[X_TABLE]
    for o in range(outer):
        for i in range(inner):
            base = o * length * inner + i
            best, where = np.int64(-129), 0
            for t in range(length):
                v = np.int64(arena[src + base + t * inner])
                if v > best:
                    best, where = v, t
            if r[F_KIND] == K_ARGMAX:
                arena[out + o * inner + i] = where
                continue
            s = np.int64(0)
            for t in range(length):
                s += i64[table + best - np.int64(arena[src + base + t * inner])]
            for t in range(length):
                e = i64[table + best - np.int64(arena[src + base + t * inner])]
                q = (512 * e + s) // (2 * s) - 128
                arena[out + base + t * inner] = 127 if q > 127 else q


@njit(**_JIT)
def execute(x, y, w8, i64):
    """Run the program in (w8, i64) on N int8 samples, x flat (N * input size), into y (N * output size).

    x and y are int8 arrays, or bytes and a bytearray (`Model.run_bytes`). The caller allocates y:
    returning a new array from compiled code costs more than a small model.
    """
    in_off, out_off, in_size, out_size = i64[H_IN], i64[H_OUT], i64[H_IN_SIZE], i64[H_OUT_SIZE]
    arena = np.empty(i64[H_ARENA] + LANES, np.int8)  # slack: `flip16` and `copy16` read whole blocks
    whole = in_size // LANES * LANES
    for s in range(len(x) // in_size):
        copy16(arena, in_off, x, s * in_size, whole // LANES)
        for i in range(whole, in_size):
            arena[in_off + i] = x[s * in_size + i]
        for k in range(i64[H_OPS]):
            r = i64[HEADER + k * RECORD : HEADER + (k + 1) * RECORD]
            kind = r[F_KIND]
            if kind == K_FC:
                _fully_connected(r, arena, w8, i64)
            elif kind == K_CONV:
                _conv(r, arena, w8, i64)
            elif kind == K_CONV_T:
                _conv_transpose(r, arena, w8, i64)
            elif kind == K_MAXPOOL:
                _pool(r, arena, False)
            elif kind == K_AVGPOOL:
                _pool(r, arena, True)
            elif kind == K_CONCAT:
                _concat(r, arena, i64)
            elif kind == K_SOFTMAX or kind == K_ARGMAX:
                _axis(r, arena, i64)
            else:
                _elementwise(r, arena, w8, i64)
        for i in range(out_size):
            y[s * out_size + i] = arena[out_off + i]

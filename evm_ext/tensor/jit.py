"""The compiled engine: one numba-compiled call runs a whole lowered model (integer arithmetic only).

`execute(x, y, w8, i64)` interprets a *program* made by `evm_ext.model.lowering` from a model's ops: `i64`
holds a header, one fixed-width record per op and the int64 constants (folded biases, requantization
multipliers, shifts and rounding halves, tables, index maps); `w8` holds the int8 weights and lookup
tables. Each sample's values live in one int8 arena at offsets fixed by the lowering.

Every kernel computes the engine's rule exactly as written in `evm_ext.tensor` (docs/quantization.md):
int8 x int8 products summed in int32 (|sum| < 2**30 by `requant.MAX_FAN_IN`), the folded bias added and
requantized in int64 (`((acc * M + 2**(s-1)) >> s) + zp`, clamped). Integer sums do not depend on the
summation order, so the results are bit-identical to the numpy engine on every machine (tests compare
the two on every op kind and every shipped model). No floating point is used anywhere here.

Kernels compile on first use and are cached on disk by numba (`cache=True`, in `__pycache__` or
NUMBA_CACHE_DIR), so a process that has run them before loads them instead of compiling. Bounds checks
are off: every index is fixed by the lowering from the decoded (validated) shapes, and the arena and
scratch buffers are sized from the same shapes.
"""

from __future__ import annotations

import numpy as np
from numba import njit

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
# GEMM ops: weight offset in w8, per-channel constants offset in i64 (4 arrays of C: bias, M, half, shift),
# input zero point, output zero point and clamp, conv mode, row offsets (conv, in i64).
P_WEIGHT, P_CHAN, P_ZP_IN, P_ZP_OUT, P_LO, P_HI, P_MODE, P_ROWS = 21, 22, 23, 24, 25, 26, 27, 28
# Conv modes: stride 1 computed at every padded column (no im2col); im2col then an axpy GEMM over output
# positions; channels-last im2col then a dot-product GEMM over the fan-in.
MODE_WIDE, MODE_AXPY, MODE_DOT = 0, 1, 2
# Transposed conv modes: per output phase a dot-product GEMM (dilation 1, inputs not too small to fill
# the phases' columns); or products per input position added at their output positions.
MODE_PHASES, MODE_SCATTER = 0, 1
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
def _gemm_dot(src, k, positions, w, w_base, channels, acc):
    """acc[c * P + p] = sum_j src[p * K + j] * w[w_base + c * K + j] (int32; vectorized over the fan-in)."""
    for c in range(channels):
        row = w[w_base + c * k : w_base + (c + 1) * k]
        for p in range(positions):
            col = src[p * k : (p + 1) * k]
            s = np.int32(0)
            for j in range(k):
                s += np.int32(col[j]) * np.int32(row[j])
            acc[c * positions + p] = s


@njit(**_JIT)
def _gemm_axpy(src, src_base, rows, k, q, w, w_base, channels, acc):
    """acc[c * Q + i] = sum_j w[w_base + c * K + j] * src[src_base + rows[j] + i] (vectorized over Q).

    Four source rows per pass over the accumulators: one load and one store of them per 4 * Q MACs.
    """
    k4 = k - k % 4
    for c in range(channels):
        out = acc[c * q : (c + 1) * q]
        out[:] = 0
        wc = w[w_base + c * k : w_base + (c + 1) * k]
        for j in range(0, k4, 4):
            w0, w1, w2, w3 = np.int32(wc[j]), np.int32(wc[j + 1]), np.int32(wc[j + 2]), np.int32(wc[j + 3])
            s0 = src[src_base + rows[j] : src_base + rows[j] + q]
            s1 = src[src_base + rows[j + 1] : src_base + rows[j + 1] + q]
            s2 = src[src_base + rows[j + 2] : src_base + rows[j + 2] + q]
            s3 = src[src_base + rows[j + 3] : src_base + rows[j + 3] + q]
            for i in range(q):
                out[i] += (
                    w0 * np.int32(s0[i]) + w1 * np.int32(s1[i]) + w2 * np.int32(s2[i]) + w3 * np.int32(s3[i])
                )
        for j in range(k4, k):
            wv = np.int32(wc[j])
            seg = src[src_base + rows[j] : src_base + rows[j] + q]
            for i in range(q):
                out[i] += wv * np.int32(seg[i])


@njit(**_JIT)
def _fully_connected(r, arena, w8, i64):
    k, c = r[FC_K], r[FC_C]
    acc = np.empty(c, np.int32)
    _gemm_dot(arena[r[F_IN0] : r[F_IN0] + k], k, 1, w8, r[P_WEIGHT], c, acc)
    ch, out = r[P_CHAN], r[F_OUT]
    for o in range(c):
        arena[out + o] = _requant(
            np.int64(acc[o]) + i64[ch + o], i64[ch + c + o], i64[ch + 2 * c + o], i64[ch + 3 * c + o],
            r[P_ZP_OUT], r[P_LO], r[P_HI],
        )


@njit(**_JIT)
def _pad(arena, src, cin, h, w, pt, pl, hp, wp, fill, buf):
    """The (cin, hp, wp) input padded with `fill` into buf (int8)."""
    buf[:] = fill
    for c in range(cin):
        for y in range(h):
            dst = c * hp * wp + (y + pt) * wp + pl
            row = src + (c * h + y) * w
            buf[dst : dst + w] = arena[row : row + w]


@njit(**_JIT)
def _pad_hwc(arena, src, cin, h, w, pt, pl, hp, wp, fill):
    """The (cin, h, w) input padded with `fill` to (hp, wp) and stored channels last: (hp, wp, cin)."""
    buf = np.full(hp * wp * cin, fill, np.int8)
    for c in range(cin):
        plane = arena[src + c * h * w : src + (c + 1) * h * w]
        for y in range(h):
            dst = buf[((y + pt) * wp + pl) * cin + c :]
            row = plane[y * w : (y + 1) * w]
            for x in range(w):
                dst[x * cin] = row[x]
    return buf


@njit(**_JIT)
def _conv(r, arena, w8, i64):
    """Conv as one GEMM per group (`lowering` picks the mode), requantized per output row.

    MODE_WIDE / MODE_AXPY: weights (cout, cin_g * kh * kw) in (ci, i, j) order, over the padded (C, H, W)
    input read at tap offsets (stride 1) or over im2col rows. MODE_DOT: weights in (i, j, ci) order, over
    im2col columns copied from the padded input stored channels last (each tap row is one contiguous run).
    """
    cin, h, w, cout, groups = r[G_CIN], r[G_H], r[G_W], r[G_COUT], r[G_GROUPS]
    kh, kw, sh, sw, dh, dw = r[G_KH], r[G_KW], r[G_SH], r[G_SW], r[G_DH], r[G_DW]
    pt, pl, pb, pr, oh, ow = r[G_PT], r[G_PL], r[G_PB], r[G_PR], r[G_OH], r[G_OW]
    hp, wp = h + pt + pb, w + pl + pr
    cin_g, cout_g = cin // groups, cout // groups
    k = cin_g * kh * kw
    mode = r[P_MODE]
    width = wp if mode == MODE_WIDE else ow
    q = oh * width
    acc = np.empty(cout_g * q, np.int32)
    ch, out, w_base = r[P_CHAN], r[F_OUT], r[P_WEIGHT]
    clamp = (r[P_ZP_OUT], r[P_LO], r[P_HI])
    pool = r[P_POOL]
    pooled = np.empty(r[FUSED_POOL + G_OH] * r[FUSED_POOL + G_OW] if pool else 0, np.int32)
    scratch = _pool_scratch(r, FUSED_POOL)
    if mode == MODE_DOT:
        hwc = _pad_hwc(arena, r[F_IN0], cin, h, w, pt, pl, hp, wp, r[P_ZP_IN])
        cols = np.empty(q * k, np.int8)
        run = kw * cin if groups == 1 and dw == 1 else cin_g  # contiguous bytes of one tap row
    else:
        padded = np.empty(cin * hp * wp + dw * (kw - 1), np.int8)
        _pad(arena, r[F_IN0], cin, h, w, pt, pl, hp, wp, r[P_ZP_IN], padded)
        rows = i64[r[P_ROWS] : r[P_ROWS] + k]
        cols = np.empty(k * q if mode == MODE_AXPY else 0, np.int8)
    for g in range(groups):
        weights = w_base + g * cout_g * k
        if mode == MODE_WIDE:
            _gemm_axpy(padded, g * cin_g * hp * wp, rows, k, q, w8, weights, cout_g, acc)
        elif mode == MODE_AXPY:
            for ci in range(cin_g):  # im2col (K, P): row j = (ci, i, jj) of this group
                for i in range(kh):
                    for jj in range(kw):
                        j = (ci * kh + i) * kw + jj
                        plane = padded[(g * cin_g + ci) * hp * wp + i * dh * wp + jj * dw :]
                        for y in range(oh):
                            dst = cols[j * q + y * ow : j * q + (y + 1) * ow]
                            src = plane[y * sh * wp :]
                            for x in range(ow):
                                dst[x] = src[x * sw]
            _gemm_axpy(cols, 0, rows, k, q, w8, weights, cout_g, acc)
        else:
            for y in range(oh):  # im2col (P, K): position (y, x), column (i, jj, ci) of this group
                for x in range(ow):
                    dst = cols[(y * ow + x) * k : (y * ow + x + 1) * k]
                    for i in range(kh):
                        base = ((y * sh + i * dh) * wp + x * sw) * cin + g * cin_g
                        for jj in range(0, kw, run // cin_g):
                            tap = hwc[base + jj * dw * cin :]
                            part = dst[(i * kw + jj) * cin_g :]
                            for u in range(run):
                                part[u] = tap[u]
            _gemm_dot(cols, k, q, w8, weights, cout_g, acc)
        for cg in range(cout_g):
            c = g * cout_g + cg
            rq = (i64[ch + c], i64[ch + cout + c], i64[ch + 2 * cout + c], i64[ch + 3 * cout + c])
            if pool:  # max pool the accumulators, then requantize (`Conv.then_max_pool`)
                _pool_plane(r, FUSED_POOL, acc[cg * q : (cg + 1) * q], width, pooled, False, scratch)
                _requant_row(pooled, arena[out + c * pooled.size : out + (c + 1) * pooled.size], *rq, *clamp)
                continue
            # one run per channel, or per output row when rows were computed wider than ow
            # (`span`, not `run`: `run` is the im2col run length of the next group)
            rows_n, span = (oh, ow) if width != ow else (1, oh * ow)
            for y in range(rows_n):
                _requant_row(
                    acc[cg * q + y * width : cg * q + y * width + span],
                    arena[out + c * oh * ow + y * ow : out + c * oh * ow + y * ow + span],
                    *rq,
                    *clamp,
                )


@njit(**_JIT)
def _centred_hwc(arena, src, cin, hw, zp):
    """The input minus its zero point (int16, exact: |x - zp| <= 255), stored channels last (h * w, cin)."""
    buf = np.empty(hw * cin, np.int16)
    for c in range(cin):
        plane = arena[src + c * hw : src + (c + 1) * hw]
        dst = buf[c:]
        for p in range(hw):
            dst[p * cin] = np.int16(plane[p]) - zp
    return buf


@njit(**_JIT)
def _conv_transpose(r, arena, w8, i64):
    """Transposed conv; inputs are centred (edge outputs receive fewer taps, so no zero-point folding).

    MODE_PHASES (dilation 1): the outputs of one phase (oy + pt) % sh, (ox + pl) % sw are read by the same
    kernel taps i = ry + a * sh, j = rx + b * sw from input (qy - a, qx - b), q = (o + pad) // stride:
    a dot-product GEMM per phase over (a, b, ci) columns, copied in runs from the input stored channels
    last with zero borders (one weight block (cout, na, nb, cin_g) per phase, b reversed so that the
    input columns of a tap row increase).
    MODE_SCATTER: per input position, the products with every (co, i, j) weight row (a row axpy),
    each added at its output position.
    """
    cin, h, w, cout, groups = r[G_CIN], r[G_H], r[G_W], r[G_COUT], r[G_GROUPS]
    kh, kw, sh, sw, dh, dw = r[G_KH], r[G_KW], r[G_SH], r[G_SW], r[G_DH], r[G_DW]
    pt, pl, oh, ow = r[G_PT], r[G_PL], r[G_OH], r[G_OW]
    cin_g, cout_g = cin // groups, cout // groups
    hw = h * w
    xc = _centred_hwc(arena, r[F_IN0], cin, hw, np.int16(r[P_ZP_IN]))
    ch, out, w_base = r[P_CHAN], r[F_OUT], r[P_WEIGHT]
    clamp = (r[P_ZP_OUT], r[P_LO], r[P_HI])
    if r[P_MODE] == MODE_SCATTER:
        taps = cout_g * kh * kw  # weight row length: (co, i, j) of one input channel
        products = np.empty(hw * taps, np.int32)
        total = np.zeros(cout * oh * ow, np.int32)
        for g in range(groups):
            for p in range(hw):
                row = products[p * taps : (p + 1) * taps]
                row[:] = 0
                xs = xc[p * cin + g * cin_g : p * cin + (g + 1) * cin_g]
                for ci in range(cin_g):
                    xv = np.int32(xs[ci])
                    wr = w8[w_base + (g * cin_g + ci) * taps : w_base + (g * cin_g + ci + 1) * taps]
                    for t in range(taps):
                        row[t] += xv * np.int32(wr[t])
            for cg in range(cout_g):
                plane = total[(g * cout_g + cg) * oh * ow : (g * cout_g + cg + 1) * oh * ow]
                for y in range(h):
                    for i in range(kh):
                        oy = y * sh + i * dh - pt
                        if oy < 0 or oy >= oh:
                            continue
                        for x in range(w):
                            first = (cg * kh + i) * kw
                            prods = products[(y * w + x) * taps + first : (y * w + x) * taps + first + kw]
                            for j in range(kw):
                                ox = x * sw + j * dw - pl
                                if 0 <= ox < ow:
                                    plane[oy * ow + ox] += prods[j]
        n = oh * ow
        for c in range(cout):
            rq = (i64[ch + c], i64[ch + cout + c], i64[ch + 2 * cout + c], i64[ch + 3 * cout + c])
            _requant_row(total[c * n : (c + 1) * n], arena[out + c * n : out + (c + 1) * n], *rq, *clamp)
        return
    phases = i64[r[P_ROWS] : r[P_ROWS] + 3 * sh * sw]  # per phase: taps a, taps b, weight offset
    # the centred input, channels last, with zero borders wide enough for every phase's taps
    top, left = (kh + sh - 1) // sh, (kw + sw - 1) // sw
    bottom, right = max(0, (oh - 1 + pt) // sh + 1 - h), max(0, (ow - 1 + pl) // sw + 1 - w)
    hp, wp = top + h + bottom, left + w + right
    xp = np.zeros(hp * wp * cin, np.int16)
    for y in range(h):
        row = xp[((top + y) * wp + left) * cin :]
        for t in range(w * cin):
            row[t] = xc[y * w * cin + t]
    for ry in range(sh):
        oy0 = (ry - pt) % sh  # first output row of the phase
        n_y = max(0, (oh - oy0 + sh - 1) // sh)
        for rx in range(sw):
            ox0 = (rx - pl) % sw
            n_x = max(0, (ow - ox0 + sw - 1) // sw)
            ph = (ry * sw + rx) * 3
            na, nb = phases[ph], phases[ph + 1]
            k, positions = na * nb * cin_g, n_y * n_x
            cols = np.empty(positions * k, np.int16)
            acc = np.zeros(cout_g * positions, np.int32)
            # columns: per tap row a one run of nb * cin_g inputs (groups: one run of cin_g per tap)
            runs, run = (1, nb * cin) if groups == 1 else (nb, cin_g)
            for g in range(groups):
                for py in range(n_y):
                    row = ((top + (oy0 + py * sh + pt) // sh) * wp + left - (nb - 1)) * cin + g * cin_g
                    for px in range(n_x):
                        first = row + ((ox0 + px * sw + pl) // sw) * cin
                        dst = cols[(py * n_x + px) * k : (py * n_x + px + 1) * k]
                        for a in range(na):
                            for b in range(runs):
                                xs = xp[first - a * wp * cin + b * cin : first - a * wp * cin + b * cin + run]
                                part = dst[(a * nb + b) * cin_g : (a * nb + b) * cin_g + run]
                                for t in range(run):
                                    part[t] = xs[t]
                if k:
                    _gemm_dot(cols, k, positions, w8, phases[ph + 2] + g * cout_g * k, cout_g, acc)
                for cg in range(cout_g):
                    c = g * cout_g + cg
                    bias, m = i64[ch + c], i64[ch + cout + c]
                    half, shift = i64[ch + 2 * cout + c], i64[ch + 3 * cout + c]
                    for py in range(n_y):
                        dst = arena[out + (c * oh + oy0 + py * sh) * ow + ox0 :]
                        src = acc[cg * positions + py * n_x : cg * positions + (py + 1) * n_x]
                        for px in range(n_x):
                            dst[px * sw] = _requant(np.int64(src[px]) + bias, m, half, shift, *clamp)


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

    The caller allocates y: returning a new array from compiled code costs more than a small model.
    """
    in_off, out_off, in_size, out_size = i64[H_IN], i64[H_OUT], i64[H_IN_SIZE], i64[H_OUT_SIZE]
    arena = np.empty(i64[H_ARENA], np.int8)
    for s in range(x.size // in_size):
        src, dst = x[s * in_size : (s + 1) * in_size], arena[in_off : in_off + in_size]
        for i in range(in_size):
            dst[i] = src[i]
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
        out, res = y[s * out_size : (s + 1) * out_size], arena[out_off : out_off + out_size]
        for i in range(out_size):
            out[i] = res[i]

// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Bytes} from "./Bytes.sol";
import {OpTable} from "./OpTable.sol";

/// @title Kernels: one op's output elements [start, end) (flat, row-major) from its whole input tensor,
/// with exactly the engine's integer semantics (docs/quantization.md):
///   fully_connected, conv, conv_transpose: acc = bias + sum (x - zpIn) * w  (padding holds zpIn: adds 0),
///     y = clamp(((acc * M + 2^(s-1)) >> s) + zpOut, lo, hi) with an arithmetic (floor) shift, per channel;
///   max_pool: window maximum, padding -128 (never wins: every window holds a real element);
///   add: clamp(((a - za) Ma + (b - zb) Mb + 2^(s-1)) >> s) + zo); mul: clamp((((a - za)(b - zb) M
///     + 2^(s-1)) >> s) + zo); both with numpy broadcasting of the two inputs;
///   avg_pool: floor((2 * sum + n) / (2 * n)), padding the zero point (or left out of sum and n when
///     count_include_pad is 0); lookup: y = table[x + 128]; reshape: y = x (same flat order);
///   transpose: y[i_0..] = x[i_perm^-1..]; softmax along an axis: d = max - x, E = T[d], S = sum E,
///     y = min(floor((512 E + S) / (2 S)) - 128, 127); argmax: index of the first maximum.
/// Weights, biases and requantization parameters are read from the model bytes `m` at the offsets
/// OpTable.locate derived; `x` must hold exactly op.x.size bytes (the caller checks it against the
/// commitment). Accumulators are int256: no overflow is possible (|acc| < 2^32, |acc * M| < 2^63).
library Kernels {
    using Bytes for bytes;

    error BadInput(uint256 length, uint256 expected);

    /// `x2` is the second input of add and mul (empty for the other kinds).
    function run(bytes memory m, OpTable.Op memory op, bytes memory x, bytes memory x2, uint256 start, uint256 end)
        internal
        pure
        returns (bytes memory y)
    {
        if (x.length != op.x.size) revert BadInput(x.length, op.x.size);
        if (op.arity == 2 && x2.length != op.x2.size) revert BadInput(x2.length, op.x2.size);
        require(start <= end && end <= op.y.size, "range outside the output");
        y = new bytes(end - start);
        uint256 kind = op.kind;
        if (kind == OpTable.FULLY_CONNECTED) _fullyConnected(m, op, x, start, y);
        else if (kind == OpTable.CONV) _conv(m, op, x, start, y);
        else if (kind == OpTable.CONV_TRANSPOSE) _convTranspose(m, op, x, start, y);
        else if (kind == OpTable.MAX_POOL) _maxPool(m, op, x, start, y);
        else if (kind == OpTable.LOOKUP) _lookup(m, op, x, start, y);
        else if (kind == OpTable.ADD || kind == OpTable.MUL) _binary(m, op, x, x2, start, y);
        else if (kind == OpTable.AVG_POOL) _avgPool(m, op, x, start, y);
        else if (kind == OpTable.TRANSPOSE) _transpose(m, op, x, start, y);
        else if (kind == OpTable.SOFTMAX) _softmax(m, op, x, start, y);
        else if (kind == OpTable.ARGMAX) _argmax(m, op, x, start, y);
        else _reshape(x, start, y);
    }

    /// sum over i < n of (x[i * xStep] - zp) * w[i * wStep], reading int8 bytes at memory pointers.
    function _dot(uint256 xp, uint256 xStep, uint256 wp, uint256 wStep, uint256 n, int256 zp)
        private
        pure
        returns (int256 acc)
    {
        assembly ("memory-safe") {
            for { let end := add(xp, mul(n, xStep)) } lt(xp, end) {
                xp := add(xp, xStep)
                wp := add(wp, wStep)
            } {
                acc := add(acc, mul(sub(signextend(0, byte(0, mload(xp))), zp), signextend(0, byte(0, mload(wp)))))
            }
        }
    }

    /// `_dot(xp, 1, wp, 1, n, zp)` with the full 32-byte words of both operands read by one MLOAD each and
    /// the 32 products unrolled (half the instructions per multiply-accumulate of the strided loop).
    function _dotContiguous(uint256 xp, uint256 wp, uint256 n, int256 zp) private pure returns (int256 acc) {
        uint256 full = n - n % 32;
        assembly ("memory-safe") {
            let wq := wp
            for { let xq := xp let end := add(xp, full) } lt(xq, end) {
                xq := add(xq, 32)
                wq := add(wq, 32)
            } {
                let xw := mload(xq)
                let ww := mload(wq)
                acc := add(acc, mul(sub(signextend(0, byte(0, xw)), zp), signextend(0, byte(0, ww))))
                acc := add(acc, mul(sub(signextend(0, byte(1, xw)), zp), signextend(0, byte(1, ww))))
                acc := add(acc, mul(sub(signextend(0, byte(2, xw)), zp), signextend(0, byte(2, ww))))
                acc := add(acc, mul(sub(signextend(0, byte(3, xw)), zp), signextend(0, byte(3, ww))))
                acc := add(acc, mul(sub(signextend(0, byte(4, xw)), zp), signextend(0, byte(4, ww))))
                acc := add(acc, mul(sub(signextend(0, byte(5, xw)), zp), signextend(0, byte(5, ww))))
                acc := add(acc, mul(sub(signextend(0, byte(6, xw)), zp), signextend(0, byte(6, ww))))
                acc := add(acc, mul(sub(signextend(0, byte(7, xw)), zp), signextend(0, byte(7, ww))))
                acc := add(acc, mul(sub(signextend(0, byte(8, xw)), zp), signextend(0, byte(8, ww))))
                acc := add(acc, mul(sub(signextend(0, byte(9, xw)), zp), signextend(0, byte(9, ww))))
                acc := add(acc, mul(sub(signextend(0, byte(10, xw)), zp), signextend(0, byte(10, ww))))
                acc := add(acc, mul(sub(signextend(0, byte(11, xw)), zp), signextend(0, byte(11, ww))))
                acc := add(acc, mul(sub(signextend(0, byte(12, xw)), zp), signextend(0, byte(12, ww))))
                acc := add(acc, mul(sub(signextend(0, byte(13, xw)), zp), signextend(0, byte(13, ww))))
                acc := add(acc, mul(sub(signextend(0, byte(14, xw)), zp), signextend(0, byte(14, ww))))
                acc := add(acc, mul(sub(signextend(0, byte(15, xw)), zp), signextend(0, byte(15, ww))))
                acc := add(acc, mul(sub(signextend(0, byte(16, xw)), zp), signextend(0, byte(16, ww))))
                acc := add(acc, mul(sub(signextend(0, byte(17, xw)), zp), signextend(0, byte(17, ww))))
                acc := add(acc, mul(sub(signextend(0, byte(18, xw)), zp), signextend(0, byte(18, ww))))
                acc := add(acc, mul(sub(signextend(0, byte(19, xw)), zp), signextend(0, byte(19, ww))))
                acc := add(acc, mul(sub(signextend(0, byte(20, xw)), zp), signextend(0, byte(20, ww))))
                acc := add(acc, mul(sub(signextend(0, byte(21, xw)), zp), signextend(0, byte(21, ww))))
                acc := add(acc, mul(sub(signextend(0, byte(22, xw)), zp), signextend(0, byte(22, ww))))
                acc := add(acc, mul(sub(signextend(0, byte(23, xw)), zp), signextend(0, byte(23, ww))))
                acc := add(acc, mul(sub(signextend(0, byte(24, xw)), zp), signextend(0, byte(24, ww))))
                acc := add(acc, mul(sub(signextend(0, byte(25, xw)), zp), signextend(0, byte(25, ww))))
                acc := add(acc, mul(sub(signextend(0, byte(26, xw)), zp), signextend(0, byte(26, ww))))
                acc := add(acc, mul(sub(signextend(0, byte(27, xw)), zp), signextend(0, byte(27, ww))))
                acc := add(acc, mul(sub(signextend(0, byte(28, xw)), zp), signextend(0, byte(28, ww))))
                acc := add(acc, mul(sub(signextend(0, byte(29, xw)), zp), signextend(0, byte(29, ww))))
                acc := add(acc, mul(sub(signextend(0, byte(30, xw)), zp), signextend(0, byte(30, ww))))
                acc := add(acc, mul(sub(signextend(0, byte(31, xw)), zp), signextend(0, byte(31, ww))))
            }
        }
        return acc + _dot(xp + full, 1, wp + full, 1, n - full, zp);
    }

    function _ptr(bytes memory b, uint256 offset) private pure returns (uint256 p) {
        assembly ("memory-safe") {
            p := add(add(b, 32), offset)
        }
    }

    /// requant block at `rq` for `channels` channels: scale f64, zp i8, lo i8, hi i8, M u32[C], shift u8[C].
    function _requant(bytes memory m, uint256 rq, uint256 channels, uint256 c, int256 acc)
        private
        pure
        returns (bytes1)
    {
        int256 mult = int256(m.u32(rq + 11 + 4 * c));
        uint256 s = m.u8(rq + 11 + 4 * channels + c);
        int256 v = ((acc * mult + int256(1 << (s - 1))) >> s) + m.i8(rq + 8);
        int256 lo = m.i8(rq + 9);
        int256 hi = m.i8(rq + 10);
        if (v < lo) v = lo;
        if (v > hi) v = hi;
        return bytes1(uint8(int8(v)));
    }

    function _fullyConnected(bytes memory m, OpTable.Op memory op, bytes memory x, uint256 start, bytes memory y)
        private
        pure
    {
        uint256 k = op.x.size;
        uint256 c = op.y.size;
        uint256 w = op.body + 4;
        uint256 bias = w + c * k;
        uint256 rq = bias + 4 * c;
        uint256 xp = _ptr(x, 0);
        for (uint256 i = 0; i < y.length; i++) {
            uint256 o = start + i;
            int256 acc = m.i32(bias + 4 * o) + _dotContiguous(xp, _ptr(m, w + o * k), k, op.x.zp);
            y[i] = _requant(m, rq, c, o, acc);
        }
    }

    /// Per output channel o: W[o] is (Cin/G, kh, kw), contiguous; input channels g*Cin/G .. (g+1)*Cin/G.
    function _conv(bytes memory m, OpTable.Op memory op, bytes memory x, uint256 start, bytes memory y)
        private
        pure
    {
        OpTable.Geometry memory g = OpTable.geometry(m, op.body + 8);
        uint256 groups = m.u32(op.body + 4);
        uint256 cinG = op.x.c / groups;
        uint256 taps = g.kh * g.kw;
        uint256 w = op.body + 28;
        uint256 bias = w + op.y.c * cinG * taps;
        uint256 rq = bias + 4 * op.y.c;
        uint256 plane = op.y.h * op.y.w;
        for (uint256 i = 0; i < y.length; i++) {
            uint256 o = (start + i) / plane;
            uint256 oy = (start + i) % plane / op.y.w;
            uint256 ox = (start + i) % op.y.w;
            uint256 xc = _ptr(x, (o / (op.y.c / groups)) * cinG * op.x.h * op.x.w);
            uint256 wo = _ptr(m, w + o * cinG * taps);
            int256 acc = m.i32(bias + 4 * o);
            for (uint256 ky = 0; ky < g.kh; ky++) {
                uint256 iy = oy * g.sh + ky * g.dh;
                if (iy < g.pt || iy - g.pt >= op.x.h) continue;
                for (uint256 kx = 0; kx < g.kw; kx++) {
                    uint256 ix = ox * g.sw + kx * g.dw;
                    if (ix < g.pl || ix - g.pl >= op.x.w) continue;
                    acc += _dot(
                        xc + (iy - g.pt) * op.x.w + ix - g.pl, op.x.h * op.x.w, wo + ky * g.kw + kx, taps, cinG, op.x.zp
                    );
                }
            }
            y[i] = _requant(m, rq, op.y.c, o, acc);
        }
    }

    /// Output (o, oy, ox) gathers input (c, iy, ix) through tap (ky, kx) when oy + pt = iy * sh + ky * dh
    /// (and the same for x); weight layout (Cin, Cout/G, kh, kw) as in ONNX.
    function _convTranspose(bytes memory m, OpTable.Op memory op, bytes memory x, uint256 start, bytes memory y)
        private
        pure
    {
        OpTable.Geometry memory g = OpTable.geometry(m, op.body + 8);
        uint256 groups = m.u32(op.body + 4);
        uint256 cinG = op.x.c / groups;
        uint256 coutG = op.y.c / groups;
        uint256 taps = g.kh * g.kw;
        uint256 w = op.body + 32;
        uint256 bias = w + op.x.c * coutG * taps;
        uint256 rq = bias + 4 * op.y.c;
        uint256 plane = op.y.h * op.y.w;
        for (uint256 i = 0; i < y.length; i++) {
            uint256 o = (start + i) / plane;
            uint256 oy = (start + i) % plane / op.y.w + g.pt;
            uint256 ox = (start + i) % op.y.w + g.pl;
            uint256 c0 = (o / coutG) * cinG;
            uint256 xc = _ptr(x, c0 * op.x.h * op.x.w);
            uint256 wo = _ptr(m, w + (c0 * coutG + o % coutG) * taps);
            int256 acc = m.i32(bias + 4 * o);
            for (uint256 ky = 0; ky < g.kh && ky * g.dh <= oy; ky++) {
                uint256 ry = oy - ky * g.dh;
                if (ry % g.sh != 0 || ry / g.sh >= op.x.h) continue;
                for (uint256 kx = 0; kx < g.kw && kx * g.dw <= ox; kx++) {
                    uint256 rx = ox - kx * g.dw;
                    if (rx % g.sw != 0 || rx / g.sw >= op.x.w) continue;
                    acc += _dot(
                        xc + (ry / g.sh) * op.x.w + rx / g.sw,
                        op.x.h * op.x.w,
                        wo + ky * g.kw + kx,
                        coutG * taps,
                        cinG,
                        op.x.zp
                    );
                }
            }
            y[i] = _requant(m, rq, op.y.c, o, acc);
        }
    }

    function _maxPool(bytes memory m, OpTable.Op memory op, bytes memory x, uint256 start, bytes memory y)
        private
        pure
    {
        OpTable.Geometry memory g = OpTable.geometry(m, op.body);
        uint256 plane = op.y.h * op.y.w;
        for (uint256 i = 0; i < y.length; i++) {
            uint256 c = (start + i) / plane;
            uint256 oy = (start + i) % plane / op.y.w;
            uint256 ox = (start + i) % op.y.w;
            int256 best = -128;
            for (uint256 ky = 0; ky < g.kh; ky++) {
                uint256 iy = oy * g.sh + ky * g.dh;
                if (iy < g.pt || iy - g.pt >= op.x.h) continue;
                for (uint256 kx = 0; kx < g.kw; kx++) {
                    uint256 ix = ox * g.sw + kx * g.dw;
                    if (ix < g.pl || ix - g.pl >= op.x.w) continue;
                    int256 v = x.i8((c * op.x.h + iy - g.pt) * op.x.w + ix - g.pl);
                    if (v > best) best = v;
                }
            }
            y[i] = bytes1(uint8(int8(best)));
        }
    }

    function _avgPool(bytes memory m, OpTable.Op memory op, bytes memory x, uint256 start, bytes memory y)
        private
        pure
    {
        OpTable.Geometry memory g = OpTable.poolGeometry(m, op.body);
        bool includePad = m.u8(op.body + 16) != 0 || g.pt + g.pl + g.pb + g.pr == 0;
        uint256 plane = op.y.h * op.y.w;
        for (uint256 i = 0; i < y.length; i++) {
            uint256 c = (start + i) / plane;
            uint256 oy = (start + i) % plane / op.y.w;
            uint256 ox = (start + i) % op.y.w;
            int256 total;
            int256 count;
            for (uint256 ky = 0; ky < g.kh; ky++) {
                uint256 iy = oy * g.sh + ky;
                bool rowIn = iy >= g.pt && iy - g.pt < op.x.h;
                for (uint256 kx = 0; kx < g.kw; kx++) {
                    uint256 ix = ox * g.sw + kx;
                    if (rowIn && ix >= g.pl && ix - g.pl < op.x.w) {
                        total += x.i8((c * op.x.h + iy - g.pt) * op.x.w + ix - g.pl);
                        count += 1;
                    } else if (includePad) {
                        total += op.x.zp;
                        count += 1;
                    }
                }
            }
            y[i] = bytes1(uint8(int8(_floorDiv(2 * total + count, 2 * count))));
        }
    }

    /// add and mul: output element e's multi-index, right-aligned, reads index 0 along an input's 1-dims.
    function _binary(
        bytes memory m,
        OpTable.Op memory op,
        bytes memory x,
        bytes memory x2,
        uint256 start,
        bytes memory y
    ) private pure {
        uint256[] memory sa = _broadcastStrides(op.y.dims, op.x.dims);
        uint256[] memory sb = _broadcastStrides(op.y.dims, op.x2.dims);
        for (uint256 i = 0; i < y.length; i++) {
            uint256 e = start + i;
            uint256 ia = 0;
            uint256 ib = 0;
            for (uint256 k = op.y.dims.length; k > 0; k--) {
                uint256 pos = e % op.y.dims[k - 1];
                e /= op.y.dims[k - 1];
                ia += pos * sa[k - 1];
                ib += pos * sb[k - 1];
            }
            y[i] = _binaryValue(m, op, x.i8(ia) - op.x.zp, x2.i8(ib) - op.x2.zp);
        }
    }

    /// Per output axis, the input's stride along it (0 where the input broadcasts: absent or 1).
    function _broadcastStrides(uint256[] memory out, uint256[] memory dims)
        private
        pure
        returns (uint256[] memory strides)
    {
        strides = new uint256[](out.length);
        uint256 stride = 1;
        for (uint256 back = 0; back < dims.length; back++) {
            uint256 d = dims[dims.length - 1 - back];
            if (d != 1) strides[out.length - 1 - back] = stride;
            stride *= d;
        }
    }

    /// add: (a Ma + c Mb + 2^(s-1)) >> s; mul: (a c M + 2^(s-1)) >> s; then + zp, clamped (a, c centred).
    function _binaryValue(bytes memory m, OpTable.Op memory op, int256 a, int256 c) private pure returns (bytes1) {
        uint256 b = op.body;
        bool add = op.kind == OpTable.ADD;
        int256 acc = add
            ? a * int256(m.u32(b + 11)) + c * int256(m.u32(b + 15))
            : a * c * int256(m.u32(b + 11));
        uint256 s = m.u8(b + (add ? 19 : 15));
        int256 v = ((acc + int256(1 << (s - 1))) >> s) + m.i8(b + 8);
        if (v < m.i8(b + 9)) v = m.i8(b + 9);
        if (v > m.i8(b + 10)) v = m.i8(b + 10);
        return bytes1(uint8(int8(v)));
    }

    /// floor(a / b) for b > 0 (Solidity's / truncates toward zero).
    function _floorDiv(int256 a, int256 b) private pure returns (int256 q) {
        q = a / b;
        if (a % b != 0 && a < 0) q -= 1;
    }

    /// Output element e at multi-index (o_0, ..., o_{r-1}) reads input index i with i[perm[k]] = o_k.
    function _transpose(bytes memory m, OpTable.Op memory op, bytes memory x, uint256 start, bytes memory y)
        private
        pure
    {
        uint256 rank = op.x.rank;
        uint256[] memory inStride = new uint256[](rank);
        uint256 stride = 1;
        for (uint256 k = rank; k > 0; k--) {
            inStride[k - 1] = stride;
            stride *= op.x.dims[k - 1];
        }
        for (uint256 i = 0; i < y.length; i++) {
            uint256 rest = start + i;
            uint256 src = 0;
            for (uint256 k = rank; k > 0; k--) {
                uint256 d = op.y.dims[k - 1];
                src += (rest % d) * inStride[m.u8(op.body + k - 1)];
                rest /= d;
            }
            y[i] = x[src];
        }
    }

    /// Where element e's axis slice starts in x, the slice's stride and length (elements before the
    /// axis: outer; after it: inner).
    function _slice(uint256[] memory dims, uint256 axis, uint256 outer, uint256 inner)
        private
        pure
        returns (uint256 base, uint256 step, uint256 len)
    {
        step = 1;
        for (uint256 k = axis + 1; k < dims.length; k++) {
            step *= dims[k];
        }
        len = dims[axis];
        base = outer * len * step + inner;
    }

    function _softmax(bytes memory m, OpTable.Op memory op, bytes memory x, uint256 start, bytes memory y)
        private
        pure
    {
        uint256 axis = m.u8(op.body);
        uint256 table = op.body + 1;
        for (uint256 i = 0; i < y.length; i++) {
            uint256 e = start + i;
            (, uint256 step, uint256 len) = _slice(op.x.dims, axis, 0, 0);
            (uint256 base,,) = _slice(op.x.dims, axis, e / (len * step), e % step);
            int256 top = -128;
            for (uint256 t = 0; t < len; t++) {
                int256 v = x.i8(base + t * step);
                if (v > top) top = v;
            }
            uint256 sum = 0;
            for (uint256 t = 0; t < len; t++) {
                sum += m.u32(table + 4 * uint256(top - x.i8(base + t * step)));
            }
            uint256 q = (512 * m.u32(table + 4 * uint256(top - x.i8(e))) + sum) / (2 * sum);
            y[i] = bytes1(uint8(int8(q > 255 ? int256(127) : int256(q) - 128)));
        }
    }

    /// Output element e is the slice of x through e's position with the axis collapsed.
    function _argmax(bytes memory m, OpTable.Op memory op, bytes memory x, uint256 start, bytes memory y)
        private
        pure
    {
        uint256 axis = m.u8(op.body);
        (, uint256 step, uint256 len) = _slice(op.x.dims, axis, 0, 0);
        for (uint256 i = 0; i < y.length; i++) {
            uint256 e = start + i;
            (uint256 base,,) = _slice(op.x.dims, axis, e / step, e % step);
            uint256 best = 0;
            int256 top = x.i8(base);
            for (uint256 t = 1; t < len; t++) {
                int256 v = x.i8(base + t * step);
                if (v > top) (top, best) = (v, t);
            }
            y[i] = bytes1(uint8(best));
        }
    }

    function _lookup(bytes memory m, OpTable.Op memory op, bytes memory x, uint256 start, bytes memory y)
        private
        pure
    {
        uint256 table = op.body + 9;
        for (uint256 i = 0; i < y.length; i++) {
            y[i] = bytes1(uint8(m.u8(table + (x.u8(start + i) ^ 0x80))));
        }
    }

    function _reshape(bytes memory x, uint256 start, bytes memory y) private pure {
        for (uint256 i = 0; i < y.length; i++) {
            y[i] = x[start + i];
        }
    }
}

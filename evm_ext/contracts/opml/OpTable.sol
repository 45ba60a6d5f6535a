// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Bytes} from "./Bytes.sol";

/// @title OpTable: walks a model's op table (docs/model-format.md) in memory and locates one op.
/// @notice Values are never modified once derived (memory structs are shared by reference: each op's
/// output is a fresh Value). Everything the one-step proof uses about an op (its kind, input value, shapes, zero points
/// and the byte offset of its body) is derived here from the sealed model's bytes, never taken from a
/// prover. Shapes are derived from the input shape and the bodies exactly as the decoder does; each
/// body is checked to lie inside the model. Supported kinds: the op kinds of the shipped models
/// (fully_connected, conv, conv_transpose, add, lookup, max_pool, reshape, transpose) and avg_pool, mul,
/// softmax and argmax; concat reverts with UnsupportedOp, so a submission on such a model cannot be
/// disputed (docs/optimistic.md, "Limits").
library OpTable {
    using Bytes for bytes;

    uint256 internal constant FULLY_CONNECTED = 1;
    uint256 internal constant CONV = 2;
    uint256 internal constant CONV_TRANSPOSE = 3;
    uint256 internal constant ADD = 4;
    uint256 internal constant MUL = 5;
    uint256 internal constant LOOKUP = 6;
    uint256 internal constant MAX_POOL = 7;
    uint256 internal constant AVG_POOL = 8;
    uint256 internal constant RESHAPE = 9;
    uint256 internal constant TRANSPOSE = 10;
    uint256 internal constant SOFTMAX = 12;
    uint256 internal constant ARGMAX = 13;

    error UnsupportedOp(uint256 index, uint256 kind);
    error BadModel(string what);

    /// A tensor value: rank, (c, h, w) for rank 3 (rank 1: c = size, h = w = 1), element count, zero point,
    /// and the per-sample dims.
    struct Value {
        uint256 rank;
        uint256 c;
        uint256 h;
        uint256 w;
        uint256 size;
        int256 zp;
        uint256[] dims;
    }

    /// One op: kind, its input value index (and the second one: add, mul), body [body, end) in the model
    /// bytes, input values and output value.
    struct Op {
        uint256 kind;
        uint256 arity;
        uint256 input;
        uint256 input2;
        uint256 body;
        uint256 end;
        Value x;
        Value x2;
        Value y;
    }

    /// Window geometry (u16 fields of the format): kernel, stride, dilation, pads (top, left, bottom, right).
    struct Geometry {
        uint256 kh;
        uint256 kw;
        uint256 sh;
        uint256 sw;
        uint256 dh;
        uint256 dw;
        uint256 pt;
        uint256 pl;
        uint256 pb;
        uint256 pr;
    }

    /// The input value, the op count and the offset of op 0.
    function header(bytes memory m) internal pure returns (Value memory input, uint256 ops, uint256 at) {
        if (m.length < 8 || m.u32(0) != 0x4d454941 || m.u8(4) != 1) revert BadModel("not an aievm model v1");
        uint256 rank = m.u8(5);
        if (rank == 0 || m.length < 6 + 4 * rank + 11) revert BadModel("input");
        uint256[] memory dims = new uint256[](rank);
        for (uint256 i = 0; i < rank; i++) {
            dims[i] = m.u32(6 + 4 * i);
        }
        at = 6 + 4 * rank + 8;
        input = value(dims, m.i8(at));
        ops = m.u16(at + 1);
        if (ops == 0) revert BadModel("no ops");
        at += 3;
    }

    /// The number of ops of the model.
    function opCount(bytes memory m) internal pure returns (uint256 ops) {
        (, ops,) = header(m);
    }

    /// Op `k` (0-based) of the model: walks ops 0..k, deriving every value's shape.
    function locate(bytes memory m, uint256 k) internal pure returns (Op memory op) {
        (Value memory input, uint256 ops, uint256 at) = header(m);
        if (k >= ops) revert BadModel("op index out of range");
        Value[] memory values = new Value[](k + 2);
        values[0] = input;
        for (uint256 i = 0; i <= k; i++) {
            if (at + 4 > m.length) revert BadModel("truncated op header");
            op.kind = m.u8(at);
            op.arity = m.u8(at + 1);
            if (op.arity != (op.kind == ADD || op.kind == MUL ? 2 : 1)) revert UnsupportedOp(i, op.kind);
            op.input = m.u16(at + 2);
            op.input2 = op.arity == 2 ? m.u16(at + 4) : 0;
            if (op.input > i || op.input2 > i) revert BadModel("input refers to a later value");
            op.x = values[op.input];
            op.x2 = values[op.input2];
            op.body = at + 2 + 2 * op.arity;
            _body(m, op, i);
            if (op.end > m.length) revert BadModel("truncated op body");
            values[i + 1] = op.y;
            at = op.end;
        }
    }

    function geometry(bytes memory m, uint256 at) internal pure returns (Geometry memory g) {
        g = Geometry(
            m.u16(at), m.u16(at + 2), m.u16(at + 4), m.u16(at + 6), m.u16(at + 8), m.u16(at + 10),
            m.u16(at + 12), m.u16(at + 14), m.u16(at + 16), m.u16(at + 18)
        );
        if (g.kh == 0 || g.kw == 0 || g.sh == 0 || g.sw == 0 || g.dh == 0 || g.dw == 0) {
            revert BadModel("zero kernel, stride or dilation");
        }
    }

    function _body(bytes memory m, Op memory op, uint256 index) private pure {
        uint256 b = op.body;
        uint256 kind = op.kind;
        if (kind == FULLY_CONNECTED) {
            if (op.x.rank != 1) revert BadModel("fully_connected needs a rank-1 input");
            uint256 c = m.u32(b);
            op.end = b + 4 + c * op.x.size + 4 * c + 11 + 5 * c;
            op.y = value(_dims(c, 0, 0, 1), m.i8(b + 4 + c * op.x.size + 4 * c + 8));
        } else if (kind == CONV || kind == CONV_TRANSPOSE) {
            if (op.x.rank != 3) revert BadModel("conv needs a (C, H, W) input");
            uint256 cout = m.u32(b);
            uint256 groups = m.u32(b + 4);
            if (groups == 0 || op.x.c % groups != 0 || cout % groups != 0) revert BadModel("groups");
            Geometry memory g = geometry(m, b + 8);
            (uint256 oh, uint256 ow, uint256 weights) = kind == CONV
                ? _convShape(op.x, g, cout, groups)
                : _transposedShape(m, op.x, g, cout, groups, b + 28);
            uint256 requant = b + (kind == CONV ? 28 : 32) + weights + 4 * cout;
            op.end = requant + 11 + 5 * cout;
            op.y = value(_dims(cout, oh, ow, 3), m.i8(requant + 8));
        } else if (kind == ADD || kind == MUL) {
            op.end = b + (kind == ADD ? 20 : 16);
            op.y = value(_broadcast(op.x.dims, op.x2.dims), m.i8(b + 8));
        } else if (kind == LOOKUP) {
            op.end = b + 265;
            // a new Value: memory structs are references, and op.x is the producer's value itself
            op.y = value(op.x.dims, m.i8(b + 8));
        } else if (kind == MAX_POOL || kind == AVG_POOL) {
            if (op.x.rank != 3) revert BadModel("pooling needs a (C, H, W) input");
            Geometry memory g = kind == MAX_POOL ? geometry(m, b) : poolGeometry(m, b);
            (uint256 oh, uint256 ow,) = _convShape(op.x, g, op.x.c, 1);
            op.end = b + (kind == MAX_POOL ? 20 : 17);
            op.y = value(_dims(op.x.c, oh, ow, 3), op.x.zp);
        } else if (kind == TRANSPOSE) {
            uint256[] memory dims = new uint256[](op.x.rank);
            for (uint256 i = 0; i < dims.length; i++) {
                uint256 p = m.u8(b + i);
                if (p >= dims.length) revert BadModel("transpose perm");
                dims[i] = op.x.dims[p];
            }
            op.end = b + dims.length;
            op.y = value(dims, op.x.zp);
        } else if (kind == SOFTMAX) {
            if (m.u8(b) >= op.x.rank) revert BadModel("softmax axis");
            op.end = b + 1 + 1024;
            op.y = value(op.x.dims, -128);
        } else if (kind == ARGMAX) {
            op.end = b + 2;
            op.y = value(_argmaxDims(op.x.dims, m.u8(b), m.u8(b + 1) != 0), 0);
        } else if (kind == RESHAPE) {
            uint256 rank = m.u8(b);
            if (rank == 0 || b + 1 + 4 * rank > m.length) revert BadModel("reshape rank");
            uint256[] memory dims = new uint256[](rank);
            for (uint256 i = 0; i < rank; i++) {
                dims[i] = m.u32(b + 1 + 4 * i);
            }
            op.end = b + 1 + 4 * rank;
            op.y = value(dims, op.x.zp);
            if (op.y.size != op.x.size) revert BadModel("reshape changes the element count");
        } else {
            revert UnsupportedOp(index, kind);
        }
    }

    /// A fresh Value of these dims and zero point.
    function value(uint256[] memory dims, int256 zp) internal pure returns (Value memory v) {
        v.rank = dims.length;
        v.dims = dims;
        v.zp = zp;
        v.size = 1;
        for (uint256 i = 0; i < dims.length; i++) {
            v.size *= dims[i];
        }
        if (dims.length == 3) (v.c, v.h, v.w) = (dims[0], dims[1], dims[2]);
        else if (dims.length == 1) (v.c, v.h, v.w) = (dims[0], 1, 1);
    }

    /// Dims (a) or (a, b, c) by `rank` (1 or 3).
    function _dims(uint256 a, uint256 b, uint256 c, uint256 rank) private pure returns (uint256[] memory d) {
        d = new uint256[](rank);
        d[0] = a;
        if (rank == 3) (d[1], d[2]) = (b, c);
    }

    /// numpy broadcasting of two per-sample shapes (right-aligned; equal dims, or one of them 1).
    function _broadcast(uint256[] memory a, uint256[] memory b) private pure returns (uint256[] memory d) {
        uint256 n = a.length > b.length ? a.length : b.length;
        d = new uint256[](n);
        for (uint256 i = 0; i < n; i++) {
            uint256 da = i < n - a.length ? 1 : a[i - (n - a.length)];
            uint256 db = i < n - b.length ? 1 : b[i - (n - b.length)];
            if (da != db && da != 1 && db != 1) revert BadModel("shapes do not broadcast");
            d[i] = da > db ? da : db;
        }
    }

    /// ArgMax's output dims: the axis removed (or kept as 1); a scalar result has dims (1).
    function _argmaxDims(uint256[] memory dims, uint256 axis, bool keep) private pure returns (uint256[] memory d) {
        if (axis >= dims.length || dims[axis] > 128) revert BadModel("argmax axis");
        uint256 n = keep ? dims.length : dims.length - 1;
        d = new uint256[](n == 0 ? 1 : n);
        d[0] = 1;
        uint256 j = 0;
        for (uint256 i = 0; i < dims.length; i++) {
            if (i != axis) d[j++] = dims[i];
            else if (keep) d[j++] = 1;
        }
    }

    /// The window of an avg_pool body (kernel, stride, pads; no dilation).
    function poolGeometry(bytes memory m, uint256 at) internal pure returns (Geometry memory g) {
        g = Geometry(
            m.u16(at), m.u16(at + 2), m.u16(at + 4), m.u16(at + 6), 1, 1, m.u16(at + 8), m.u16(at + 10),
            m.u16(at + 12), m.u16(at + 14)
        );
        if (g.kh == 0 || g.kw == 0 || g.sh == 0 || g.sw == 0) revert BadModel("zero kernel or stride");
    }

    /// Output size of a conv or pool window and the conv's weight count.
    function _convShape(Value memory x, Geometry memory g, uint256 cout, uint256 groups)
        private
        pure
        returns (uint256 oh, uint256 ow, uint256 weights)
    {
        uint256 eh = g.dh * (g.kh - 1) + 1;
        uint256 ew = g.dw * (g.kw - 1) + 1;
        if (x.h + g.pt + g.pb < eh || x.w + g.pl + g.pr < ew) revert BadModel("empty output");
        oh = (x.h + g.pt + g.pb - eh) / g.sh + 1;
        ow = (x.w + g.pl + g.pr - ew) / g.sw + 1;
        weights = cout * (x.c / groups) * g.kh * g.kw;
    }

    /// Output size of a transposed conv (output padding u16[2] at `at`) and its weight count.
    function _transposedShape(
        bytes memory m,
        Value memory x,
        Geometry memory g,
        uint256 cout,
        uint256 groups,
        uint256 at
    )
        private
        pure
        returns (uint256 oh, uint256 ow, uint256 weights)
    {
        uint256 fh = (x.h - 1) * g.sh + g.dh * (g.kh - 1) + 1 + m.u16(at);
        uint256 fw = (x.w - 1) * g.sw + g.dw * (g.kw - 1) + 1 + m.u16(at + 2);
        if (fh <= g.pt + g.pb || fw <= g.pl + g.pr) revert BadModel("empty output");
        oh = fh - g.pt - g.pb;
        ow = fw - g.pl - g.pr;
        weights = x.c * (cout / groups) * g.kh * g.kw;
    }
}

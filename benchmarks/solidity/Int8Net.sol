// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Int8Net: a quantized int8 network (MLP or CNN) in plain Solidity, for comparison with INFER.
/// @notice Implements the aievm engine's integer semantics exactly (docs/quantization.md), so that
/// `forward(input)` returns the same bytes as INFER on the same model:
///   acc  = bias' + sum(x * w)              with bias' = bias - zpIn * sum(w) (zero point folded in)
///   y    = ((acc * M + 2**(s-1)) >> s) + zpOut, clamped to [lo, hi]   (>> is arithmetic: floor)
///   conv padding holds zpIn (a real 0); max-pool padding holds -128.
/// Activations are int8 values kept one per memory word (int256[]); weights are int8 packed 32 per
/// storage word, lowest byte first, each output channel starting on a fresh word; per-channel
/// parameters are one word each: bias' (int128, low bits) | M << 128 | s << 192.
/// The layer table and the weights are uploaded once by `setLayers` and `write` (see benchmarks/baseline.py).
/// Only the multiply-accumulate inner loops are inline assembly (no bounds checks: indices are in range by
/// construction), which makes this a strong baseline: ratios to INFER are conservative.
contract Int8Net {
    uint8 internal constant FC = 1;
    uint8 internal constant CONV = 2;
    uint8 internal constant MAXPOOL = 3;

    struct Layer {
        uint8 kind;
        uint16 cin; // input channels (FC: input features)
        uint16 h; // input height (FC: 1)
        uint16 w; // input width (FC: 1)
        uint16 cout; // output channels (FC: output features); MAXPOOL: = cin
        uint16 oh;
        uint16 ow;
        uint8 kh;
        uint8 kw;
        uint8 sh;
        uint8 sw;
        uint8 dh;
        uint8 dw;
        uint8 padTop;
        uint8 padLeft;
        int16 zpIn;
        int16 zpOut;
        int16 lo;
        int16 hi;
        uint32 weights; // first weight word
        uint32 params; // first per-channel parameter word
    }

    address public immutable owner;
    Layer[] public layers;
    mapping(uint256 => uint256) internal words;

    constructor() {
        owner = msg.sender;
    }

    function setLayers(Layer[] calldata table) external {
        require(msg.sender == owner, "owner only");
        delete layers;
        for (uint256 i = 0; i < table.length; i++) {
            layers.push(table[i]);
        }
    }

    /// Store `chunk` at word offsets [offset, offset + chunk.length) (weights and parameters).
    function write(uint256 offset, uint256[] calldata chunk) external {
        require(msg.sender == owner, "owner only");
        unchecked {
            for (uint256 i = 0; i < chunk.length; i++) {
                words[offset + i] = chunk[i];
            }
        }
    }

    /// Run the network on one int8 input tensor; returns the int8 output tensor.
    function forward(bytes calldata input) external view returns (bytes memory out) {
        require(layers.length > 0, "no layers");
        Layer memory first = layers[0];
        require(input.length == uint256(first.cin) * first.h * first.w, "wrong input size");
        int256[] memory act = new int256[](input.length);
        unchecked {
            for (uint256 i = 0; i < input.length; i++) {
                act[i] = int8(uint8(input[i]));
            }
        }
        uint256 n = layers.length;
        for (uint256 l = 0; l < n; l++) {
            Layer memory L = layers[l];
            if (L.kind == FC) {
                act = fullyConnected(L, act);
            } else if (L.kind == CONV) {
                act = conv2d(L, act);
            } else {
                require(L.kind == MAXPOOL, "unknown layer kind");
                act = maxPool(L, act);
            }
        }
        out = new bytes(act.length);
        unchecked {
            for (uint256 i = 0; i < act.length; i++) {
                out[i] = bytes1(uint8(int8(act[i])));
            }
        }
    }

    function requant(int256 acc, uint256 param, Layer memory L) internal pure returns (int256 y) {
        unchecked {
            uint256 s = param >> 192;
            y = ((acc * int256((param >> 128) & 0xffffffff) + int256(1 << (s - 1))) >> s) + L.zpOut;
            if (y < L.lo) y = L.lo;
            if (y > L.hi) y = L.hi;
        }
    }

    function fullyConnected(Layer memory L, int256[] memory x) internal view returns (int256[] memory y) {
        uint256 k = L.cin;
        uint256 rowWords = (k + 31) / 32;
        y = new int256[](L.cout);
        unchecked {
            for (uint256 o = 0; o < y.length; o++) {
                uint256 param = words[L.params + o];
                int256 acc = int128(uint128(param));
                uint256 base = L.weights + o * rowWords;
                for (uint256 wi = 0; wi < rowWords; wi++) {
                    uint256 word = words[base + wi];
                    uint256 n = k - wi * 32 < 32 ? k - wi * 32 : 32;
                    // acc += x[32 wi + j] * int8(byte j of word), j < n (no bounds checks: n is in range)
                    assembly ("memory-safe") {
                        let p := add(add(x, 0x20), mul(wi, 0x400))
                        for { let end := add(p, mul(n, 0x20)) } lt(p, end) { p := add(p, 0x20) } {
                            acc := add(acc, mul(mload(p), signextend(0, word)))
                            word := shr(8, word)
                        }
                    }
                }
                y[o] = requant(acc, param, L);
            }
        }
    }

    /// The input with the zero point written around it (top/left pads from the layer table, bottom/right
    /// as far as the output size needs), so the convolution reads no out-of-range position.
    function padded(Layer memory L, int256[] memory x) internal pure returns (int256[] memory xp, uint256 hp, uint256 wp) {
        unchecked {
            hp = (uint256(L.oh) - 1) * L.sh + (uint256(L.kh) - 1) * L.dh + 1;
            wp = (uint256(L.ow) - 1) * L.sw + (uint256(L.kw) - 1) * L.dw + 1;
            if (hp < uint256(L.padTop) + L.h) hp = uint256(L.padTop) + L.h;
            if (wp < uint256(L.padLeft) + L.w) wp = uint256(L.padLeft) + L.w;
            if (hp == L.h && wp == L.w) return (x, hp, wp);
            xp = new int256[](uint256(L.cin) * hp * wp);
            int256 zp = L.zpIn;
            for (uint256 i = 0; i < xp.length; i++) {
                xp[i] = zp;
            }
            for (uint256 c = 0; c < L.cin; c++) {
                for (uint256 r = 0; r < L.h; r++) {
                    for (uint256 q = 0; q < L.w; q++) {
                        xp[(c * hp + r + L.padTop) * wp + q + L.padLeft] = x[(c * L.h + r) * L.w + q];
                    }
                }
            }
        }
    }

    function conv2d(Layer memory L, int256[] memory x) internal view returns (int256[] memory y) {
        (int256[] memory xp, uint256 hp, uint256 wp) = padded(L, x);
        uint256 plane = uint256(L.oh) * L.ow;
        uint256 fanIn = uint256(L.cin) * L.kh * L.kw;
        uint256 rowWords = (fanIn + 31) / 32;
        y = new int256[](uint256(L.cout) * plane);
        int256[] memory acc = new int256[](plane);
        int256[] memory wv = new int256[](fanIn);
        unchecked {
            for (uint256 o = 0; o < L.cout; o++) {
                // this output channel's weights, unpacked once and reused at every output position
                uint256 base = L.weights + o * rowWords;
                uint256 word;
                for (uint256 i = 0; i < fanIn; i++) {
                    if (i % 32 == 0) word = words[base + i / 32];
                    wv[i] = int8(uint8(word));
                    word >>= 8;
                }
                uint256 param = words[L.params + o];
                int256 bias = int128(uint128(param));
                for (uint256 i = 0; i < plane; i++) {
                    acc[i] = bias;
                }
                uint256 t = 0;
                for (uint256 c = 0; c < L.cin; c++) {
                    for (uint256 ky = 0; ky < L.kh; ky++) {
                        for (uint256 kx = 0; kx < L.kw; kx++) {
                            int256 wt = wv[t++];
                            for (uint256 oy = 0; oy < L.oh; oy++) {
                                uint256 src = (c * hp + oy * L.sh + ky * L.dh) * wp + kx * L.dw;
                                uint256 dst = oy * L.ow;
                                uint256 n = L.ow;
                                uint256 step = uint256(L.sw) * 0x20;
                                // acc[dst + ox] += wt * xp[src + ox * sw] for ox < ow (all in range)
                                assembly ("memory-safe") {
                                    let a := add(add(acc, 0x20), mul(dst, 0x20))
                                    let s := add(add(xp, 0x20), mul(src, 0x20))
                                    for { let end := add(a, mul(n, 0x20)) } lt(a, end) {
                                        a := add(a, 0x20)
                                        s := add(s, step)
                                    } { mstore(a, add(mload(a), mul(wt, mload(s)))) }
                                }
                            }
                        }
                    }
                }
                for (uint256 i = 0; i < plane; i++) {
                    y[o * plane + i] = requant(acc[i], param, L);
                }
            }
        }
    }

    function maxPool(Layer memory L, int256[] memory x) internal pure returns (int256[] memory y) {
        y = new int256[](uint256(L.cout) * L.oh * L.ow);
        unchecked {
            for (uint256 c = 0; c < L.cout; c++) {
                for (uint256 oy = 0; oy < L.oh; oy++) {
                    for (uint256 ox = 0; ox < L.ow; ox++) {
                        int256 m = -128;
                        for (uint256 ky = 0; ky < L.kh; ky++) {
                            uint256 iy = oy * L.sh + ky * L.dh - L.padTop;
                            for (uint256 kx = 0; kx < L.kw; kx++) {
                                uint256 ix = ox * L.sw + kx * L.dw - L.padLeft;
                                if (iy < L.h && ix < L.w) {
                                    int256 v = x[(c * L.h + iy) * L.w + ix];
                                    if (v > m) m = v;
                                }
                            }
                        }
                        y[(c * L.oh + oy) * L.ow + ox] = m;
                    }
                }
            }
        }
    }
}

// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title PNG: truecolour (RGB, 8 bits per channel) PNG files, encoded on chain.
/// @notice `encodeRGB(rgb, width, height)` returns a complete PNG file (RFC 2083 / ISO 15948): signature,
/// IHDR, one IDAT holding a zlib stream (RFC 1950) of *stored* deflate blocks (RFC 1951, BTYPE 00: no
/// compression, at most 65,535 bytes each), and IEND. Every scanline has filter type 0 (None). Chunk CRCs
/// are CRC-32 (reflected polynomial 0xEDB88320, 256-entry table, one byte per step); the zlib trailer is
/// Adler-32, summed a 32-byte word at a time. The bytes depend only on the arguments, so every node
/// returns the same file.
library PNG {
    uint256 private constant MAX_STORED = 65535;
    /// @dev 0xff in the low byte of each of the eight 32-bit lanes of a word.
    uint256 private constant LANE_BYTES = 0x000000ff000000ff000000ff000000ff000000ff000000ff000000ff000000ff;
    /// @dev Multipliers whose product's top lane is a sum over lanes: 1 per lane, and lane index L.
    uint256 private constant LANE_ONES = 0x0000000100000001000000010000000100000001000000010000000100000001;
    uint256 private constant LANE_INDEX = 0x0000000000000001000000020000000300000004000000050000000600000007;

    /// @param rgb row-major pixels, top row first, 3 bytes (R, G, B) per pixel; length width * height * 3.
    function encodeRGB(bytes memory rgb, uint256 width, uint256 height) internal pure returns (bytes memory png) {
        require(width > 0 && height > 0 && width < 2 ** 24 && height < 2 ** 24, "PNG: bad size");
        require(rgb.length == width * height * 3, "PNG: rgb.length != width * height * 3");
        bytes memory raw = _scanlines(rgb, width * 3, height);
        uint256 blocks = (raw.length + MAX_STORED - 1) / MAX_STORED;
        uint256 idat = 2 + 5 * blocks + raw.length + 4; // zlib header, block headers, data, Adler-32
        uint256[256] memory table = _crcTable();
        png = new bytes(8 + 25 + 12 + idat + 12); // allocated last: word writes may run past its end
        uint256 p;
        assembly ("memory-safe") {
            p := add(png, 32)
            // Signature, then IHDR (13 bytes: width, height, bit depth 8, colour type 2 = RGB,
            // compression 0, filter 0, interlace 0).
            mstore(p, 0x89504e470d0a1a0a0000000d4948445200000000000000000000000000000000)
            mstore(add(p, 16), or(shl(224, width), or(shl(192, height), shl(152, 0x0802000000))))
        }
        _putCrc(table, p + 12, 17); // over "IHDR" and its data
        uint256 q = p + 33; // the IDAT chunk
        uint256 adler = _adler32(raw);
        uint256 end;
        assembly ("memory-safe") {
            // IDAT length and type, zlib header 0x78 0x01 (deflate, 32K window, no dictionary).
            mstore(q, or(shl(224, idat), shl(192, 0x49444154)))
            mstore(add(q, 8), shl(240, 0x7801))
            let out := add(q, 10)
            let src := add(raw, 32)
            for { let left := mload(raw) } gt(left, 0) {} {
                let n := left
                if gt(n, MAX_STORED) { n := MAX_STORED }
                left := sub(left, n)
                // Stored block header: BFINAL (last block), BTYPE 00; LEN and NLEN little-endian.
                let len := or(shl(8, and(n, 0xff)), shr(8, n))
                mstore(out, or(shl(248, iszero(left)), or(shl(232, len), shl(216, xor(len, 0xffff)))))
                mcopy(add(out, 5), src, n)
                out := add(out, add(5, n))
                src := add(src, n)
            }
            mstore(out, shl(224, adler))
            end := add(out, 4)
        }
        _putCrc(table, q + 4, end - q - 4); // over "IDAT" and the zlib stream
        assembly ("memory-safe") {
            mstore(add(end, 4), shl(160, 0x0000000049454e44ae426082)) // IEND: length 0, type, CRC
        }
    }

    /// @dev The filtered image: per scanline, filter type 0 then the row's `row` bytes.
    function _scanlines(bytes memory rgb, uint256 row, uint256 height) private pure returns (bytes memory raw) {
        raw = new bytes(height * (row + 1));
        assembly ("memory-safe") {
            let dst := add(raw, 32)
            for { let src := add(rgb, 32) let end := add(src, mul(row, height)) } lt(src, end) {} {
                mstore8(dst, 0)
                mcopy(add(dst, 1), src, row)
                dst := add(dst, add(row, 1))
                src := add(src, row)
            }
        }
    }

    /// @dev Adler-32 of `data`. Per 32-byte word of bytes x_0..x_31: a += sum x_k, b += 32 a + sum (32 - k) x_k;
    /// both sums come from multiplications of byte lanes (no lane can carry: lane sums stay below 2**32).
    /// a and b are reduced mod 65521 once at the end (a < 2**64 and b < 2**128 for any memory size).
    function _adler32(bytes memory data) private pure returns (uint256) {
        uint256 a = 1;
        uint256 b;
        assembly ("memory-safe") {
            let p := add(data, 32)
            let len := mload(data)
            for { let end := add(p, and(len, not(31))) } lt(p, end) { p := add(p, 32) } {
                let w := mload(p)
                // Byte k = 4 (7 - L) + g sits in 32-bit lane L (0 = lowest) of e_g; its weight 32 - k
                // is 4 + 4 L - g.
                let e0 := and(shr(24, w), LANE_BYTES)
                let e1 := and(shr(16, w), LANE_BYTES)
                let e2 := and(shr(8, w), LANE_BYTES)
                let e3 := and(w, LANE_BYTES)
                let lanes := add(add(e0, e1), add(e2, e3))
                let weighted := add(add(shl(2, e0), mul(3, e1)), add(shl(1, e2), e3))
                b := add(b, add(shl(5, a), add(shr(224, mul(weighted, LANE_ONES)), shl(2, shr(224, mul(lanes, LANE_INDEX))))))
                a := add(a, shr(224, mul(lanes, LANE_ONES)))
            }
            for { let end := add(add(data, 32), len) } lt(p, end) { p := add(p, 1) } {
                a := add(a, byte(0, mload(p)))
                b := add(b, a)
            }
        }
        return ((b % 65521) << 16) | (a % 65521);
    }

    /// @dev Writes the CRC-32 of `len` bytes at memory `ptr` (big-endian) right after them.
    function _putCrc(uint256[256] memory table, uint256 ptr, uint256 len) private pure {
        uint256 c = _crc(table, ptr, len);
        assembly ("memory-safe") {
            let at := add(ptr, len)
            mstore(at, or(shl(224, c), and(mload(at), sub(shl(224, 1), 1))))
        }
    }

    /// @dev CRC-32 of `len` bytes at memory `ptr`, with the table of `_crcTable`; four bytes per iteration.
    function _crc(uint256[256] memory table, uint256 ptr, uint256 len) private pure returns (uint256 c) {
        assembly ("memory-safe") {
            c := 0xffffffff
            let end := add(ptr, len)
            for { let fours := add(ptr, and(len, not(3))) } lt(ptr, fours) { ptr := add(ptr, 4) } {
                let w := mload(ptr)
                c := xor(mload(add(table, shl(5, and(xor(c, byte(0, w)), 0xff)))), shr(8, c))
                c := xor(mload(add(table, shl(5, and(xor(c, byte(1, w)), 0xff)))), shr(8, c))
                c := xor(mload(add(table, shl(5, and(xor(c, byte(2, w)), 0xff)))), shr(8, c))
                c := xor(mload(add(table, shl(5, and(xor(c, byte(3, w)), 0xff)))), shr(8, c))
            }
            for {} lt(ptr, end) { ptr := add(ptr, 1) } {
                c := xor(mload(add(table, shl(5, and(xor(c, byte(0, mload(ptr))), 0xff)))), shr(8, c))
            }
            c := xor(c, 0xffffffff)
        }
    }

    /// @dev The 256-entry CRC-32 table (reflected polynomial 0xEDB88320), built in memory.
    function _crcTable() private pure returns (uint256[256] memory table) {
        assembly ("memory-safe") {
            for { let n := 0 } lt(n, 256) { n := add(n, 1) } {
                let c := n
                for { let k := 0 } lt(k, 8) { k := add(k, 1) } {
                    switch and(c, 1)
                    case 1 { c := xor(0xedb88320, shr(1, c)) }
                    default { c := shr(1, c) }
                }
                mstore(add(table, shl(5, n)), c)
            }
        }
    }
}

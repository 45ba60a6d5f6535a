// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title PNG: truecolour (RGB, 8 bits per channel) PNG files, encoded on chain.
/// @notice `encodeRGB(rgb, width, height)` returns a complete PNG file (RFC 2083 / ISO 15948): signature,
/// IHDR, one IDAT holding a zlib stream (RFC 1950) of *stored* deflate blocks (RFC 1951, BTYPE 00: no
/// compression, at most 65,535 bytes each), and IEND. Every scanline has filter type 0 (None). Chunk CRCs
/// are CRC-32 (polynomial 0xEDB88320, table-driven, byte at a time); the zlib trailer is Adler-32.
/// The bytes depend only on the arguments, so every node returns the same file.
library PNG {
    uint256 private constant MAX_STORED = 65535;

    /// @param rgb row-major pixels, top row first, 3 bytes (R, G, B) per pixel; length width * height * 3.
    function encodeRGB(bytes memory rgb, uint256 width, uint256 height) internal pure returns (bytes memory png) {
        require(width > 0 && height > 0 && width < 2 ** 24 && height < 2 ** 24, "PNG: bad size");
        require(rgb.length == width * height * 3, "PNG: rgb.length != width * height * 3");
        uint256 row = width * 3;
        uint256 raw = height * (row + 1); // filter byte + pixels, per scanline
        uint256 blocks = (raw + MAX_STORED - 1) / MAX_STORED;
        uint256 idat = 2 + 5 * blocks + raw + 4; // zlib header, block headers, data, Adler-32
        uint256[256] memory table = _crcTable(); // allocated first: writes may run past png's end
        png = new bytes(8 + 25 + 12 + idat + 12);
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
        uint256 end;
        assembly ("memory-safe") {
            // IDAT length and type, zlib header 0x78 0x01 (deflate, 32K window, no dictionary).
            mstore(q, or(shl(224, idat), shl(192, 0x49444154)))
            mstore(add(q, 8), shl(240, 0x7801))
            let out := add(q, 10)
            let left := raw
            let a := 1
            let b := 0
            let x := 0 // bytes of the current scanline already written (0: its filter byte is next)
            let src := add(rgb, 32)
            for {} gt(left, 0) {} {
                let n := left
                if gt(n, MAX_STORED) { n := MAX_STORED }
                left := sub(left, n)
                // Stored block header: BFINAL (last block), BTYPE 00; LEN and NLEN little-endian.
                let len := or(shl(8, and(n, 0xff)), shr(8, n))
                mstore(out, or(shl(248, iszero(left)), or(shl(232, len), shl(216, xor(len, 0xffff)))))
                out := add(out, 5)
                for { let blockEnd := add(out, n) } lt(out, blockEnd) { out := add(out, 1) } {
                    let v := 0 // filter type 0 at x == 0
                    if x {
                        v := byte(0, mload(src))
                        src := add(src, 1)
                    }
                    mstore8(out, v)
                    a := add(a, v) // reduced mod 65521 at the end: a < 2**64, b < 2**128 for
                    b := add(b, a) // any length that fits in memory
                    x := add(x, 1)
                    if gt(x, row) { x := 0 }
                }
            }
            mstore(out, shl(224, or(shl(16, mod(b, 65521)), mod(a, 65521)))) // Adler-32, big-endian
            end := add(out, 4)
        }
        _putCrc(table, q + 4, end - q - 4); // over "IDAT" and the zlib stream
        assembly ("memory-safe") {
            mstore(add(end, 4), shl(160, 0x0000000049454e44ae426082)) // IEND: length 0, type, CRC
        }
    }

    /// @dev Writes the CRC-32 of `len` bytes at memory `ptr` (big-endian) right after them.
    function _putCrc(uint256[256] memory table, uint256 ptr, uint256 len) private pure {
        uint256 c = _crc(table, ptr, len);
        assembly ("memory-safe") {
            let at := add(ptr, len)
            mstore(at, or(shl(224, c), and(mload(at), sub(shl(224, 1), 1))))
        }
    }

    /// @dev CRC-32 of `len` bytes at memory `ptr`, with the table of `_crcTable`.
    function _crc(uint256[256] memory table, uint256 ptr, uint256 len) private pure returns (uint256 c) {
        assembly ("memory-safe") {
            c := 0xffffffff
            for { let end := add(ptr, len) } lt(ptr, end) { ptr := add(ptr, 1) } {
                let i := and(xor(c, byte(0, mload(ptr))), 0xff)
                c := xor(mload(add(table, shl(5, i))), shr(8, c))
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

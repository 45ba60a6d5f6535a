// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Bytes: little-endian field reads from a byte string in memory (the .aiem encoding).
/// @notice Callers check `offset + width <= b.length` (OpTable checks every op body against the model
/// length before a kernel reads it); these functions do not.
library Bytes {
    function u8(bytes memory b, uint256 o) internal pure returns (uint256 v) {
        assembly ("memory-safe") {
            v := byte(0, mload(add(add(b, 32), o)))
        }
    }

    function u16(bytes memory b, uint256 o) internal pure returns (uint256) {
        return u8(b, o) | (u8(b, o + 1) << 8);
    }

    function u32(bytes memory b, uint256 o) internal pure returns (uint256) {
        return u16(b, o) | (u16(b, o + 2) << 16);
    }

    function i8(bytes memory b, uint256 o) internal pure returns (int256) {
        return int256(int8(uint8(u8(b, o))));
    }

    function i32(bytes memory b, uint256 o) internal pure returns (int256) {
        return int256(int32(uint32(u32(b, o))));
    }
}

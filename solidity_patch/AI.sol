// SPDX-License-Identifier: MIT
pragma solidity >=0.8.24;

/// @title AI: helpers for calling on-chain models with the aievm builtins.
/// @notice `import "aievm/AI.sol";` (resolved by `aievm compile`). Tensors are the bytes INFER reads and
/// writes: int8 elements are one two's-complement byte each; int32 elements are four bytes each,
/// little-endian two's complement (numpy `astype("<i4").tobytes()`). Row-major order throughout.
library AI {
    /// @notice Runs `model` on `input`; reverts with "aievm: not a model" if `model` is not a sealed,
    /// valid model and with "aievm: infer() failed" if `input` has the wrong size.
    function run(address model, bytes memory input) internal pure returns (bytes memory output) {
        (, uint256 outputSize) = modelinfo(model);
        require(outputSize != 0, "aievm: not a model");
        output = new bytes(outputSize);
        infer(model, input, output);
    }

    /// @notice The index of the largest output of `model` on `input` (a classifier's predicted class).
    function classify(address model, bytes memory input) internal pure returns (uint256) {
        return argmax(run(model, input));
    }

    /// @notice Index of the largest int8 element of `tensor` (the first one on ties); reverts if empty.
    function argmax(bytes memory tensor) internal pure returns (uint256 best) {
        require(tensor.length != 0, "AI: empty tensor");
        int8 top = int8(uint8(tensor[0]));
        for (uint256 i = 1; i < tensor.length; ++i) {
            int8 x = int8(uint8(tensor[i]));
            if (x > top) (top, best) = (x, i);
        }
    }

    /// @notice Index of the largest element of `values` (the first one on ties); reverts if empty.
    function argmax(int32[] memory values) internal pure returns (uint256 best) {
        require(values.length != 0, "AI: empty tensor");
        for (uint256 i = 1; i < values.length; ++i) {
            if (values[i] > values[best]) best = i;
        }
    }

    /// @notice int8 values -> tensor bytes.
    function encodeInt8(int8[] memory values) internal pure returns (bytes memory out) {
        out = new bytes(values.length);
        for (uint256 i = 0; i < values.length; ++i) out[i] = bytes1(uint8(values[i]));
    }

    /// @notice Tensor bytes -> int8 values.
    function decodeInt8(bytes memory tensor) internal pure returns (int8[] memory values) {
        values = new int8[](tensor.length);
        for (uint256 i = 0; i < tensor.length; ++i) values[i] = int8(uint8(tensor[i]));
    }

    /// @notice int32 values -> tensor bytes (4 bytes each, little-endian).
    function encodeInt32(int32[] memory values) internal pure returns (bytes memory out) {
        out = new bytes(values.length * 4);
        for (uint256 i = 0; i < values.length; ++i) {
            uint32 u = uint32(values[i]);
            for (uint256 k = 0; k < 4; ++k) out[4 * i + k] = bytes1(uint8(u >> (8 * k)));
        }
    }

    /// @notice Tensor bytes (4 bytes each, little-endian) -> int32 values; reverts if the length is
    /// not a multiple of 4.
    function decodeInt32(bytes memory tensor) internal pure returns (int32[] memory values) {
        require(tensor.length % 4 == 0, "AI: int32 tensor length not a multiple of 4");
        values = new int32[](tensor.length / 4);
        for (uint256 i = 0; i < values.length; ++i) {
            uint32 u;
            for (uint32 k = 0; k < 4; ++k) u |= uint32(uint8(tensor[4 * i + k])) << (8 * k);
            values[i] = int32(u);
        }
    }
}

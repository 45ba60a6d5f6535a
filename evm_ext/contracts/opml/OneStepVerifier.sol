// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ChunkTree} from "./ChunkTree.sol";
import {Kernels} from "./Kernels.sol";
import {ModelCode} from "./ModelCode.sol";
import {OpShapes} from "./OpShapes.sol";
import {OpTable} from "./OpTable.sol";

/// @title OneStepVerifier: recomputes one output chunk of one op, in plain Solidity (any EVM).
/// @notice `chunk(model, k, xs, j)` is output bytes [j * CHUNK, min((j + 1) * CHUNK, size)) of op k
/// (0-based) run on its whole input tensors `xs` (one per input of the op), bit-identical to the engine (tests/test_opml_kernels.py).
/// The `...Of` functions take the model bytes themselves (test harnesses, other storage layouts).
contract OneStepVerifier is OpShapes {
    function chunk(address model, uint256 k, bytes[] calldata xs, uint256 j) external view returns (bytes memory) {
        return chunkOf(ModelCode.load(model), k, xs, j);
    }

    function chunkOf(bytes memory m, uint256 k, bytes[] memory xs, uint256 j) public pure returns (bytes memory) {
        OpTable.Op memory op = OpTable.locate(m, k);
        if (xs.length != op.arity) revert Kernels.BadInput(xs.length, op.arity);
        uint256 start = j * ChunkTree.CHUNK;
        require(start < op.y.size, "chunk index out of range");
        uint256 end = start + ChunkTree.CHUNK < op.y.size ? start + ChunkTree.CHUNK : op.y.size;
        return Kernels.run(m, op, xs[0], op.arity == 2 ? xs[1] : bytes(""), start, end);
    }

    /// The whole output of op k (tests; gas grows with the output size).
    function outputOf(bytes memory m, uint256 k, bytes[] memory xs) external pure returns (bytes memory) {
        OpTable.Op memory op = OpTable.locate(m, k);
        if (xs.length != op.arity) revert Kernels.BadInput(xs.length, op.arity);
        return Kernels.run(m, op, xs[0], op.arity == 2 ? xs[1] : bytes(""), 0, op.y.size);
    }
}

// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ChunkTree} from "./ChunkTree.sol";
import {Kernels} from "./Kernels.sol";
import {ModelCode} from "./ModelCode.sol";
import {OpTable} from "./OpTable.sol";

/// @title OneStepVerifier: recomputes one output chunk of one op, in plain Solidity (any EVM).
/// @notice `chunk(model, k, x, j)` is output bytes [j * CHUNK, min((j + 1) * CHUNK, size)) of op k
/// (0-based) run on its whole input tensor `x`, bit-identical to the engine (tests/test_opml_kernels.py).
/// The `...Of` functions take the model bytes themselves (test harnesses, other storage layouts).
contract OneStepVerifier {
    /// Op k's input value index and the sizes of its input and output tensors; the model's op count.
    function opShape(address model, uint256 k)
        external
        view
        returns (uint256 ops, uint256 input, uint256 inSize, uint256 outSize)
    {
        return opShapeOf(ModelCode.load(model), k);
    }

    /// The model's op count and the sizes of its input and output tensors.
    function modelShape(address model) external view returns (uint256 ops, uint256 inSize, uint256 outSize) {
        bytes memory m = ModelCode.load(model);
        OpTable.Value memory input;
        (input, ops,) = OpTable.header(m);
        return (ops, input.size, OpTable.locate(m, ops - 1).y.size);
    }

    function chunk(address model, uint256 k, bytes calldata x, uint256 j) external view virtual returns (bytes memory) {
        return chunkOf(ModelCode.load(model), k, x, j);
    }

    function opShapeOf(bytes memory m, uint256 k)
        public
        pure
        returns (uint256 ops, uint256 input, uint256 inSize, uint256 outSize)
    {
        OpTable.Op memory op = OpTable.locate(m, k);
        return (OpTable.opCount(m), op.input, op.x.size, op.y.size);
    }

    function chunkOf(bytes memory m, uint256 k, bytes memory x, uint256 j) public pure returns (bytes memory) {
        OpTable.Op memory op = OpTable.locate(m, k);
        uint256 start = j * ChunkTree.CHUNK;
        require(start < op.y.size, "chunk index out of range");
        uint256 end = start + ChunkTree.CHUNK < op.y.size ? start + ChunkTree.CHUNK : op.y.size;
        return Kernels.run(m, op, x, start, end);
    }

    /// The whole output of op k (tests; gas grows with the output size).
    function outputOf(bytes memory m, uint256 k, bytes memory x) external pure returns (bytes memory) {
        OpTable.Op memory op = OpTable.locate(m, k);
        return Kernels.run(m, op, x, 0, op.y.size);
    }
}

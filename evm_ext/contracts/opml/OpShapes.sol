// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ModelCode} from "./ModelCode.sol";
import {OpTable} from "./OpTable.sol";

/// @title OpShapes: the model views both one-step verifiers share (read from the sealed model's code).
abstract contract OpShapes {
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

    function opShapeOf(bytes memory m, uint256 k)
        public
        pure
        returns (uint256 ops, uint256 input, uint256 inSize, uint256 outSize)
    {
        OpTable.Op memory op = OpTable.locate(m, k);
        return (OpTable.opCount(m), op.input, op.x.size, op.y.size);
    }
}

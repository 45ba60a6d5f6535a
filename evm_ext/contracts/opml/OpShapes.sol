// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ModelCode} from "./ModelCode.sol";
import {OpTable} from "./OpTable.sol";

/// @title OpShapes: the model views both one-step verifiers share (read from the sealed model's code).
abstract contract OpShapes {
    /// The model's op count, op k's input value indices (one per input) and its output size.
    function opShape(address model, uint256 k)
        external
        view
        returns (uint256 ops, uint256[] memory inputs, uint256 outSize)
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
        returns (uint256 ops, uint256[] memory inputs, uint256 outSize)
    {
        OpTable.Op memory op = OpTable.locate(m, k);
        inputs = new uint256[](op.arity);
        inputs[0] = op.input;
        if (op.arity == 2) inputs[1] = op.input2;
        return (OpTable.opCount(m), inputs, op.y.size);
    }
}

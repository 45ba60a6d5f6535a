// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ChunkTree} from "../ChunkTree.sol";
import {IOneStep} from "../OpmlGame.sol";
import {IModelStore, ModelCode} from "../ModelCode.sol";
import {OpShapes} from "../OpShapes.sol";
import {OpTable} from "../OpTable.sol";

/// @title InferOneStep: the one-step verifier for chains with INFER (compiled by `aievm compile`).
/// @notice Same interface and results as OneStepVerifier, but `chunk` runs op k with the INFER opcode on
/// its *op model*: a sealed one-op model whose input value is op k's input value (same shape and zero
/// point) and whose op is op k's bytes reading value 0. `register(model, k, opModel)` checks that
/// correspondence once from both models' code chunks (kind, input value, body byte for byte), so nothing
/// the registrant supplies is trusted; `nodes.opml.client.op_model` builds the bytes.
contract InferOneStep is OpShapes {
    bytes32 public immutable modelCodeHash;
    /// The plain verifier, for the two-input ops (add, mul): a one-op model has one input value.
    IOneStep public immutable plain;
    mapping(address => mapping(uint256 => address)) public opModel;

    event Registered(address indexed model, uint256 indexed op, address opModel);

    error NotRegistered(address model, uint256 op);
    error NotTheOp(string what);

    constructor(bytes32 modelCodeHash_, IOneStep plain_) {
        modelCodeHash = modelCodeHash_;
        plain = plain_;
    }

    function register(address model, uint256 k, address sub) external {
        if (sub.codehash != modelCodeHash || !IModelStore(sub).isSealed()) revert NotTheOp("not a sealed model");
        bytes memory m = ModelCode.load(model);
        bytes memory s = ModelCode.load(sub);
        OpTable.Op memory op = OpTable.locate(m, k);
        if (op.arity != 1) revert NotTheOp("a two-input op runs on the plain verifier");
        if (OpTable.opCount(s) != 1) revert NotTheOp("op count");
        OpTable.Op memory only = OpTable.locate(s, 0);
        OpTable.Value memory a = op.x;
        OpTable.Value memory b = only.x;
        if (a.zp != b.zp || keccak256(abi.encode(a.dims)) != keccak256(abi.encode(b.dims))) {
            revert NotTheOp("input value");
        }
        uint256 len = op.end - op.body;
        if (only.kind != op.kind || s.length != only.body + len || _hash(m, op.body, len) != _hash(s, only.body, len)) {
            revert NotTheOp("op bytes");
        }
        opModel[model][k] = sub;
        emit Registered(model, k, sub);
    }

    function chunk(address model, uint256 k, bytes[] calldata xs, uint256 j) external view returns (bytes memory y) {
        if (xs.length != 1) return plain.chunk(model, k, xs, j);
        address sub = opModel[model][k];
        if (sub == address(0)) revert NotRegistered(model, k);
        (, uint256 size) = modelinfo(sub);
        bytes memory out = new bytes(size);
        infer(sub, xs[0], out);
        uint256 start = j * ChunkTree.CHUNK;
        require(start < size, "chunk index out of range");
        uint256 end = start + ChunkTree.CHUNK < size ? start + ChunkTree.CHUNK : size;
        y = new bytes(end - start);
        for (uint256 i = 0; i < y.length; i++) {
            y[i] = out[start + i];
        }
    }

    function _hash(bytes memory b, uint256 offset, uint256 len) private pure returns (bytes32 h) {
        assembly ("memory-safe") {
            h := keccak256(add(add(b, 32), offset), len)
        }
    }
}

// SPDX-License-Identifier: MIT
pragma solidity >=0.8.4;

/// @title AIPrecompile: call on-chain models through the INFER precompile, with any stock solc.
/// @notice For projects that compile with their own solc (Hardhat, Foundry): no `verbatim`, no
/// builtins, just a staticcall to the precompile at 0x0AC0, which charges INFER's gas. Projects built
/// with `aievm compile` can use the `infer()` builtin instead (one opcode, no call frame: it saves the
/// warm STATICCALL's 100 gas and the ABI encoding of the input); see docs/solidity.md. On a chain
/// without the precompile the call finds no code and `infer` reverts with InferFailed.
library AIPrecompile {
    /// @notice The INFER precompile (docs/opcodes.md, evm_ext/vm/precompile.py).
    address internal constant PRECOMPILE = 0x0000000000000000000000000000000000000ac0;

    /// @notice `model` is not a sealed, valid model, or `input` does not have its input size.
    error InferFailed(address model);

    /// @notice Runs `model` on `input` (its int8 input tensor bytes); returns the output tensor bytes.
    function infer(address model, bytes memory input) internal view returns (bytes memory output) {
        bool ok;
        (ok, output) = tryInfer(model, input);
        if (!ok) revert InferFailed(model);
    }

    /// @notice `infer` without reverting: (false, "") when the precompile reports a failure.
    function tryInfer(address model, bytes memory input) internal view returns (bool ok, bytes memory output) {
        (ok, output) = PRECOMPILE.staticcall(abi.encode(model, input));
        ok = ok && output.length != 0;  // the precompile returns empty output on failure
    }
}

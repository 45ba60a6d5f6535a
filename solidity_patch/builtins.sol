// SPDX-License-Identifier: MIT
pragma solidity >=0.8.24;

// The aievm builtins. `aievm compile` makes these visible in every source file that calls them (no
// import needed) and replaces their bodies with the INFER (0xC0) and MODELINFO (0xC1) opcodes; the
// bodies below are placeholders that a plain solc would compile (and that never run on aievm).
// They are `pure` so that any function may call them: a model is immutable once sealed.

/// @notice Runs the sealed model at `model` on `input` (int8 tensor bytes) and writes the output
/// tensor into the first `outputSize` bytes of `output`. Reverts with
/// Error("aievm: infer() failed") if `model` is not a sealed, valid model, if
/// `input.length != inputSize` or if `output.length < outputSize`; returns true otherwise.
function infer(address /* model */, bytes memory /* input */, bytes memory /* output */)
    pure
    returns (bool /* ok */)
{}

/// @notice The byte sizes of the int8 input and output tensors of the model at `model`; (0, 0) if
/// `model` is not a sealed, valid model (then `infer` on it would fail).
function modelinfo(address /* model */) pure returns (uint256 /* inputSize */, uint256 /* outputSize */) {}

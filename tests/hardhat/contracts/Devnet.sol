// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import "../../../solidity_patch/AIPrecompile.sol";

/// Exercised by test/devnet.test.js: an event, a counter, and a model call through the precompile.
contract Devnet {
    uint256 public pings;
    event Pinged(address indexed by, uint256 count);

    function ping(uint256 count) external {
        pings += count;
        emit Pinged(msg.sender, count);
    }

    function classify(address model, bytes calldata input) external view returns (bytes memory) {
        return AIPrecompile.infer(model, input);
    }
}

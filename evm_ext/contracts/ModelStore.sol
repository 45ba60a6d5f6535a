// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title ModelStore: the bytes of one neural-network model, uploaded in chunks, then sealed forever.
/// @notice The INFER and MODELINFO opcodes read a model only from an account whose runtime code hash is
/// the canonical ModelStore code hash (a consensus constant of the aievm fork) and only once it is sealed.
/// Storage layout (a consensus contract with the fork, see docs/model-storage.md):
///   slot 0: owner, slot 1: length in bytes, slot 2: sealed flag (0 or 1), slot 3: keccak-256 of the bytes,
///   slot DATA_BASE + i: bytes [32 i, 32 i + 32) of the model, big-endian, the last word zero-padded.
/// There is no constructor argument and no immutable, so every deployment has the same runtime code.
contract ModelStore {
    /// keccak256(abi.encode(uint256(4))): where a `bytes32[]` declared after the four header slots keeps
    /// its elements.
    uint256 private constant DATA_BASE = 0x8a35acfbc15ff81a39ae7d344fd709f28e8600b4aa8c65c6b64bfe7fe36bd19b;

    address public owner;
    uint256 public length;
    bool public isSealed;
    bytes32 public modelHash;

    event Written(uint256 indexed offset, uint256 size);
    event Sealed(uint256 length, bytes32 modelHash);
    event OwnerChanged(address indexed owner);

    error NotOwner();
    error AlreadySealed();
    error Unaligned(uint256 offset);
    error Empty();

    constructor() {
        owner = msg.sender;
        emit OwnerChanged(msg.sender);
    }

    modifier onlyOwnerUnsealed() {
        if (msg.sender != owner) revert NotOwner();
        if (isSealed) revert AlreadySealed();
        _;
    }

    /// @notice Hand the upload over to another account (before sealing).
    function setOwner(address newOwner) external onlyOwnerUnsealed {
        owner = newOwner;
        emit OwnerChanged(newOwner);
    }

    /// @notice Store `chunk` at byte `offset` (a multiple of 32). Rewriting a chunk is idempotent, so an
    /// interrupted upload can resume. A chunk whose size is not a multiple of 32 zero-pads its last word;
    /// `length` becomes the largest end offset written so far.
    function write(uint256 offset, bytes calldata chunk) external onlyOwnerUnsealed {
        if (offset % 32 != 0) revert Unaligned(offset);
        uint256 size = chunk.length;
        if (size == 0) revert Empty();
        uint256 end = offset + size;
        assembly {
            let slot := add(DATA_BASE, div(offset, 32))
            let src := chunk.offset
            let full := sub(size, mod(size, 32))
            for { let i := 0 } lt(i, full) { i := add(i, 32) } {
                sstore(slot, calldataload(add(src, i)))
                slot := add(slot, 1)
            }
            let rest := mod(size, 32)
            if rest {
                let word := calldataload(add(src, full))
                let keep := not(sub(shl(mul(sub(32, rest), 8), 1), 1))
                sstore(slot, and(word, keep))
            }
        }
        if (end > length) length = end;
        emit Written(offset, size);
    }

    /// @notice Make the model immutable forever: records keccak-256 over the stored `length` bytes.
    function seal() external onlyOwnerUnsealed {
        uint256 size = length;
        if (size == 0) revert Empty();
        bytes32 digest;
        assembly {
            let words := div(add(size, 31), 32)
            let buf := mload(0x40)
            for { let i := 0 } lt(i, words) { i := add(i, 1) } {
                mstore(add(buf, mul(i, 32)), sload(add(DATA_BASE, i)))
            }
            digest := keccak256(buf, size)
        }
        modelHash = digest;
        isSealed = true;
        emit Sealed(size, digest);
    }

    /// @notice Read back `size` stored bytes from `offset` (for clients; INFER reads storage directly).
    function read(uint256 offset, uint256 size) external view returns (bytes memory out) {
        out = new bytes(size);
        assembly {
            let first := div(offset, 32)
            let words := sub(div(add(add(offset, size), 31), 32), first)
            let tmp := mload(0x40)
            for { let i := 0 } lt(i, words) { i := add(i, 1) } {
                mstore(add(tmp, mul(i, 32)), sload(add(DATA_BASE, add(first, i))))
            }
            mcopy(add(out, 32), add(tmp, mod(offset, 32)), size)
        }
    }
}

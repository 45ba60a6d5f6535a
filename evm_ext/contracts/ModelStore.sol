// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title ModelStore: one neural-network model, uploaded as contract-code chunks, then sealed forever.
/// @notice The INFER and MODELINFO opcodes read a model only from an account whose runtime code hash is
/// the canonical ModelStore code hash (a consensus constant of the aievm fork) and only once it is sealed.
///
/// Layout (a consensus contract with the fork, see docs/model-storage.md):
///   chunk i: the contract this store created with nonce i + 1 (CREATE), runtime code
///            0x00 (STOP) ‖ model bytes [i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE); every chunk but the last full.
///   slot 0: length (bits 0-63), sealed flag (64-71), inputSize (72-135), outputSize (136-199); slot 1: owner;
///   slot 2: modelId = keccak256(uint256(length) ‖ codehash(chunk 0) ‖ … ‖ codehash(chunk n-1)).
/// Chunks are created only by this code, in order, so chunk addresses are derived, never stored. A chunk's
/// code starts with STOP, so it cannot run SELFDESTRUCT or anything else: once created it never changes.
/// There is no constructor argument and no immutable, so every deployment has the same runtime code.
contract ModelStore {
    /// EIP-170's 24,576-byte code limit minus the STOP prefix.
    uint256 public constant CHUNK_SIZE = 24575;
    /// The fork's MAX_MODEL_BYTES (32 MiB).
    uint256 public constant MAX_LENGTH = 33554432;

    uint64 public length;
    bool public isSealed;
    uint64 public inputSize;
    uint64 public outputSize;
    address public owner;
    bytes32 public modelId;

    event Appended(uint256 indexed index, address chunk, uint256 size);
    event Sealed(bytes32 modelId, uint256 length, uint256 inputSize, uint256 outputSize);
    event OwnerChanged(address indexed owner);

    error NotOwner();
    error AlreadySealed();
    error BadChunkSize(uint256 size);
    error AfterPartialChunk();
    error TooLarge(uint256 length);
    error Empty();
    error BadSizes();
    error Mismatch(bytes32 computed);
    error CreateFailed();
    error NoSuchChunk(uint256 index);

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

    /// @notice Number of chunks uploaded so far.
    function chunkCount() public view returns (uint256) {
        return (uint256(length) + CHUNK_SIZE - 1) / CHUNK_SIZE;
    }

    /// @notice The data contract holding chunk `index` (read it with EXTCODECOPY from offset 1).
    function chunk(uint256 index) external view returns (address) {
        if (index >= chunkCount()) revert NoSuchChunk(index);
        return _chunkAddress(index + 1);
    }

    /// @notice Upload the next chunk: 1 to CHUNK_SIZE bytes, after full chunks only. Creates its data
    /// contract (200 gas per byte of code deposit). An interrupted upload resumes at `chunkCount()`.
    function append(bytes calldata data) external onlyOwnerUnsealed returns (address created) {
        uint256 size = data.length;
        if (size == 0 || size > CHUNK_SIZE) revert BadChunkSize(size);
        uint256 stored = length;
        if (stored % CHUNK_SIZE != 0) revert AfterPartialChunk();
        if (stored + size > MAX_LENGTH) revert TooLarge(stored + size);
        assembly {
            // init code: PUSH2 n, DUP1, PUSH1 12, PUSH1 0, CODECOPY, PUSH1 0, RETURN, then the runtime code
            // STOP ‖ data (n = size + 1 bytes) that it returns.
            let p := mload(0x40)
            mstore(p, or(or(shl(248, 0x61), shl(232, add(size, 1))), shl(152, 0x80600c6000396000f300)))
            calldatacopy(add(p, 13), data.offset, size)
            created := create(0, p, add(size, 13))
        }
        if (created == address(0)) revert CreateFailed();
        length = uint64(stored + size);
        emit Appended(stored / CHUNK_SIZE, created, size);
    }

    /// @notice Make the model immutable forever. Computes the model id from the chunks' code hashes (one
    /// EXTCODEHASH a chunk, no model byte is read) and reverts with `Mismatch` unless it is `expectedId`
    /// (`aievm model inspect` prints it); records the sizes MODELINFO reports (INFER checks them).
    function seal(bytes32 expectedId, uint64 inSize, uint64 outSize) external onlyOwnerUnsealed {
        uint256 size = length;
        if (size == 0) revert Empty();
        if (inSize == 0 || outSize == 0) revert BadSizes();
        uint256 n = chunkCount();
        bytes memory buf = new bytes(32 * (n + 1));
        assembly {
            mstore(add(buf, 32), size)
        }
        for (uint256 i = 0; i < n; ++i) {
            bytes32 h = _chunkAddress(i + 1).codehash;
            assembly {
                mstore(add(buf, add(64, mul(i, 32))), h)
            }
        }
        bytes32 id = keccak256(buf);
        if (id != expectedId) revert Mismatch(id);
        modelId = id;
        inputSize = inSize;
        outputSize = outSize;
        isSealed = true;
        emit Sealed(id, size, inSize, outSize);
    }

    /// @dev CREATE address for this contract's `nonce` (1 to 0xffff: 32 MiB is 1,366 chunks):
    /// keccak256(rlp([address(this), nonce]))[12:], the RLP built in scratch space (no memory growth).
    function _chunkAddress(uint256 nonce) private view returns (address chunkAddress) {
        assembly {
            let head := or(shl(240, 0x94), shl(80, address()))
            let size := 25
            switch lt(nonce, 0x80)
            case 1 {
                mstore(0, or(or(shl(248, 0xd6), head), shl(72, nonce)))
                size := 23
            }
            default {
                switch lt(nonce, 0x100)
                case 1 {
                    mstore(0, or(or(shl(248, 0xd7), head), or(shl(72, 0x81), shl(64, nonce))))
                    size := 24
                }
                default {
                    mstore(0, or(or(shl(248, 0xd8), head), or(shl(72, 0x82), shl(56, nonce))))
                }
            }
            chunkAddress := and(keccak256(0, size), 0xffffffffffffffffffffffffffffffffffffffff)
        }
    }
}

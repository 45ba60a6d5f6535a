// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ChunkTree} from "./ChunkTree.sol";

interface IOneStep {
    function opShape(address model, uint256 k)
        external
        view
        returns (uint256 ops, uint256[] memory inputs, uint256 outSize);
    function modelShape(address model) external view returns (uint256 ops, uint256 inSize, uint256 outSize);
    function chunk(address model, uint256 k, bytes[] calldata xs, uint256 j) external view returns (bytes memory);
}

interface ISealedModel {
    function isSealed() external view returns (bool);
}

/// @title OpmlGame: optimistic inference results with a two-phase dispute game (docs/optimistic.md).
/// @notice Invariants:
/// - a submission has exactly one outcome: Finalized (after its window, with no challenge open) or
///   Slashed (a challenge proved it wrong, or its submitter missed a move); both are final;
/// - any number of challenges may be opened while the window is open, each bonded and independent;
///   a challenge ends exactly once: the challenger wins (submission Slashed, bonds to the challenger),
///   loses (its bond to the submitter), or is refunded (the submission was slashed by another one);
/// - every move has a deadline `moveBlocks` blocks after the previous one; a party that misses its
///   deadline loses (`timeout`); nothing the prover supplies is trusted: value roots are checked
///   against the submission's root, tensors against their roots, op shapes and weights come from the
///   sealed model, and the one-step proof reverts unless the recomputed chunk differs from the
///   committed one.
contract OpmlGame {
    enum State { None, Pending, Finalized, Slashed }
    /// Whose move a challenge waits for: 1 submitter reveals the value roots, 2 challenger names the op,
    /// 3 submitter reveals that op's chunk leaves, 4 challenger proves one chunk wrong; 5 ended.
    enum Phase { None, RevealRoots, PickOp, RevealLeaves, Prove, Ended }

    struct Submission {
        address submitter;
        address model;
        uint64 windowEnd;
        uint32 ops;
        uint32 open;
        uint32 lost;
        State state;
        bytes32 inputRoot;
        bytes32 outputRoot;
        bytes32 root;
    }

    struct Challenge {
        uint256 sid;
        address challenger;
        Phase phase;
        uint64 deadline;
        uint32 op;
        uint32 input;
        uint32 input2;
        uint8 arity;
        uint32 leafCount;
    }

    IOneStep public immutable verifier;
    bytes32 public immutable modelCodeHash;
    uint256 public immutable windowBlocks;
    uint256 public immutable moveBlocks;
    uint256 public immutable submitBond;
    uint256 public immutable challengeBond;

    Submission[] public submissions;
    Challenge[] public challenges;

    event Submitted(
        uint256 indexed id, address indexed submitter, address indexed model, bytes input, bytes output,
        bytes32 root, uint256 windowEnd
    );
    event Challenged(uint256 indexed id, uint256 indexed challenge, address indexed challenger, uint256 deadline);
    event RootsRevealed(uint256 indexed challenge, bytes32[] roots, uint256 deadline);
    event OpPicked(uint256 indexed challenge, uint256 op, uint256 deadline);
    event LeavesRevealed(uint256 indexed challenge, bytes32[] leaves, uint256 deadline);
    event ChallengeEnded(uint256 indexed challenge, uint256 indexed id, bool challengerWon, string reason);
    event Finalized(uint256 indexed id);
    event Paid(address indexed to, uint256 amount);

    error WrongBond(uint256 sent, uint256 required);
    error NotAModel(address model);
    error BadState(string what);
    error NotYourMove();
    error Late(uint256 deadline);
    error TooEarly(uint256 deadline);
    error BadCommitment(string what);
    error ChunkIsCorrect(uint256 chunk);

    constructor(
        IOneStep verifier_,
        bytes32 modelCodeHash_,
        uint256 windowBlocks_,
        uint256 moveBlocks_,
        uint256 submitBond_,
        uint256 challengeBond_
    ) {
        verifier = verifier_;
        modelCodeHash = modelCodeHash_;
        windowBlocks = windowBlocks_;
        moveBlocks = moveBlocks_;
        submitBond = submitBond_;
        challengeBond = challengeBond_;
    }

    function submissionCount() external view returns (uint256) {
        return submissions.length;
    }

    function challengeCount() external view returns (uint256) {
        return challenges.length;
    }

    /// Post `output` of `model` on `input` with the commitment `root`; returns the submission id.
    function submit(address model, bytes calldata input, bytes calldata output, bytes32 root)
        external
        payable
        returns (uint256 id)
    {
        if (msg.value != submitBond) revert WrongBond(msg.value, submitBond);
        if (model.codehash != modelCodeHash || !ISealedModel(model).isSealed()) revert NotAModel(model);
        (uint256 ops, uint256 inSize, uint256 outSize) = verifier.modelShape(model);
        if (input.length != inSize || output.length != outSize) revert BadCommitment("input or output size");
        id = submissions.length;
        uint256 windowEnd = block.number + windowBlocks;
        submissions.push(
            Submission(
                msg.sender, model, uint64(windowEnd), uint32(ops), 0, 0, State.Pending, ChunkTree.root(input),
                ChunkTree.root(output), root
            )
        );
        emit Submitted(id, msg.sender, model, input, output, root, windowEnd);
    }

    /// Dispute submission `id` (before its window closes); returns the challenge id.
    function challenge(uint256 id) external payable returns (uint256 cid) {
        Submission storage s = submissions[id];
        if (s.state != State.Pending || block.number > s.windowEnd) revert BadState("not open to challenges");
        if (msg.value != challengeBond) revert WrongBond(msg.value, challengeBond);
        s.open += 1;
        cid = challenges.length;
        uint256 deadline = block.number + moveBlocks;
        challenges.push(Challenge(id, msg.sender, Phase.RevealRoots, uint64(deadline), 0, 0, 0, 0, 0));
        emit Challenged(id, cid, msg.sender, deadline);
    }

    /// Submitter: reveal the value roots (input, each op's output) behind the submission's root.
    function revealRoots(uint256 cid, bytes32[] calldata roots) external {
        (Challenge storage c, Submission storage s) = _move(cid, Phase.RevealRoots);
        if (roots.length != uint256(s.ops) + 1) revert BadCommitment("one root per value");
        _checkRoots(s, roots);
        if (roots[0] != s.inputRoot || roots[roots.length - 1] != s.outputRoot) {
            revert BadCommitment("input or output root");
        }
        c.phase = Phase.PickOp;
        emit RootsRevealed(cid, roots, _next(c));
    }

    /// Challenger: name op `k` (0-based), whose output root it disputes while agreeing with its input.
    function pickOp(uint256 cid, uint256 k) external {
        (Challenge storage c, Submission storage s) = _move(cid, Phase.PickOp);
        if (k >= s.ops) revert BadCommitment("no such op");
        (, uint256[] memory inputs, uint256 outSize) = verifier.opShape(s.model, k);
        (c.op, c.input, c.arity, c.leafCount) =
            (uint32(k), uint32(inputs[0]), uint8(inputs.length), uint32(ChunkTree.leafCount(outSize)));
        if (inputs.length == 2) c.input2 = uint32(inputs[1]);
        c.phase = Phase.RevealLeaves;
        emit OpPicked(cid, k, _next(c));
    }

    /// Submitter: reveal the chunk leaves of the disputed op's output (checked against its root).
    function revealLeaves(uint256 cid, bytes32[] calldata roots, bytes32[] calldata leaves) external {
        (Challenge storage c, Submission storage s) = _move(cid, Phase.RevealLeaves);
        _checkRoots(s, roots);
        if (leaves.length != c.leafCount || ChunkTree.rootOf(leaves) != roots[c.op + 1]) {
            revert BadCommitment("leaves");
        }
        c.phase = Phase.Prove;
        emit LeavesRevealed(cid, leaves, _next(c));
    }

    /// Challenger: the one-step proof. Chunk `j`'s committed leaf comes with its Merkle proof against the
    /// disputed op's output root (the revealed leaves hash to it); `xs` are the op's whole input tensors
    /// (each checked against its committed root); chunk `j` is recomputed on chain and must differ.
    function prove(
        uint256 cid,
        bytes32[] calldata roots,
        uint256 j,
        bytes32 leaf,
        bytes32[] calldata proof,
        bytes[] calldata xs
    ) external {
        (Challenge storage c, Submission storage s) = _move(cid, Phase.Prove);
        _checkRoots(s, roots);
        if (!ChunkTree.verify(roots[c.op + 1], c.leafCount, j, leaf, proof)) revert BadCommitment("leaf");
        if (xs.length != c.arity || ChunkTree.root(xs[0]) != roots[c.input]) revert BadCommitment("input tensor");
        if (c.arity == 2 && ChunkTree.root(xs[1]) != roots[c.input2]) revert BadCommitment("input tensor");
        if (keccak256(verifier.chunk(s.model, c.op, xs, j)) == leaf) revert ChunkIsCorrect(j);
        _end(cid, c, s, true, "one-step proof");
    }

    /// Anyone: end a challenge whose mover missed its deadline (that party loses).
    function timeout(uint256 cid) external {
        Challenge storage c = challenges[cid];
        Submission storage s = submissions[c.sid];
        if (c.phase == Phase.None || c.phase == Phase.Ended) revert BadState("challenge ended");
        if (block.number <= c.deadline) revert TooEarly(c.deadline);
        bool submitterMoves = c.phase == Phase.RevealRoots || c.phase == Phase.RevealLeaves;
        _end(cid, c, s, submitterMoves, submitterMoves ? "submitter timed out" : "challenger timed out");
    }

    /// Anyone: close a challenge of a submission another challenge already slashed (bond refunded).
    function refund(uint256 cid) external {
        Challenge storage c = challenges[cid];
        Submission storage s = submissions[c.sid];
        if (c.phase == Phase.None || c.phase == Phase.Ended || s.state != State.Slashed) {
            revert BadState("nothing to refund");
        }
        _end(cid, c, s, false, "refunded");
    }

    /// Anyone: accept submission `id` after its window, with no challenge open; returns the bond.
    function finalize(uint256 id) external {
        Submission storage s = submissions[id];
        if (s.state != State.Pending) revert BadState("not pending");
        if (block.number <= s.windowEnd) revert TooEarly(s.windowEnd);
        if (s.open != 0) revert BadState("a challenge is open");
        s.state = State.Finalized;
        emit Finalized(id);
        _pay(s.submitter, submitBond);
    }

    function _move(uint256 cid, Phase phase) private view returns (Challenge storage c, Submission storage s) {
        c = challenges[cid];
        s = submissions[c.sid];
        if (c.phase != phase || s.state != State.Pending) revert BadState("not this move");
        address mover = phase == Phase.RevealRoots || phase == Phase.RevealLeaves ? s.submitter : c.challenger;
        if (msg.sender != mover) revert NotYourMove();
        if (block.number > c.deadline) revert Late(c.deadline);
    }

    function _next(Challenge storage c) private returns (uint256 deadline) {
        deadline = block.number + moveBlocks;
        c.deadline = uint64(deadline);
    }

    function _checkRoots(Submission storage s, bytes32[] calldata roots) private view {
        if (keccak256(abi.encodePacked(roots)) != s.root) revert BadCommitment("roots");
    }

    /// Ends challenge `c`: on a submission already slashed by another challenge, the bond is refunded.
    function _end(uint256 cid, Challenge storage c, Submission storage s, bool challengerWon, string memory why)
        private
    {
        c.phase = Phase.Ended;
        s.open -= 1;
        if (s.state != State.Pending) {
            emit ChallengeEnded(cid, c.sid, false, "refunded");
            _pay(c.challenger, challengeBond);
        } else if (challengerWon) {
            s.state = State.Slashed;
            emit ChallengeEnded(cid, c.sid, true, why);
            _pay(c.challenger, challengeBond + submitBond);
        } else {
            s.lost += 1;
            emit ChallengeEnded(cid, c.sid, false, why);
            _pay(s.submitter, challengeBond);
        }
    }

    function _pay(address to, uint256 amount) private {
        emit Paid(to, amount);
        (bool ok,) = to.call{value: amount}("");
        require(ok, "payment failed");
    }
}

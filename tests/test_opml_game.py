"""The dispute game's invariants on py-evm's stock CancunVM (no INFER), with the shipped MNIST MLP.

A tampered submission is slashed by the one-step proof and the challenger paid; a wrong proof reverts;
a party that misses its move loses; a submission has one outcome (a second finalize fails); a second
challenge of a slashed submission is refunded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from eth_utils import keccak

from evm_ext.contracts import model_store, sealed_accounts
from evm_ext.model import load_model
from nodes.opml.agents import Commitment
from nodes.opml.commitment import CHUNK, leaves, proof
from nodes.opml.trace import trace
from tests.opml_fixtures import ADDRESSES, PlainChain, decode, encode

ROOT = Path(__file__).resolve().parent.parent
MODEL = keccak(b"opml model")[:20]
BOND, CH_BOND = 10**18, 3 * 10**17
WINDOW, MOVE = 30, 12
SUBMITTER, CHALLENGER, OTHER = 1, 2, 0
PENDING, FINALIZED, SLASHED = 1, 2, 3


def _selector(error: str) -> bytes:
    return keccak(error.encode())[:4]


class Game:
    def __init__(self, path: str = "mnist_mlp/mnist_mlp.aiem") -> None:
        self.model = load_model(ROOT / "models" / path)
        data = self.model.encode()
        self.chain = PlainChain(
            sealed_accounts(data, MODEL, ADDRESSES[0], self.model.input_size, self.model.output_size)
        )
        verifier = self.chain.deploy("OneStepVerifier")
        self.address = self.chain.deploy(
            "OpmlGame", verifier, model_store().runtime_code_hash, WINDOW, MOVE, BOND, CH_BOND
        )
        images = np.load(ROOT / "models/data/mnist_test_images.npy")
        pixels = images[0].astype(np.float64).reshape(-1) / 255
        self.x = (
            self.model.encode_input(pixels.reshape(self.model.input_shape))
            if pixels.size == self.model.input_size
            else bytes(self.model.input_size)
        )
        self.gas: dict[str, int] = {}

    def call(self, fn: str, *args, sender: int, value: int = 0):
        gas, computation = self.chain.send(self.address, encode("OpmlGame", fn, *args), sender, value)
        self.gas[fn] = gas
        return gas, computation

    def ok(self, fn: str, *args, sender: int, value: int = 0):
        gas, computation = self.call(fn, *args, sender=sender, value=value)
        assert computation.is_success, (fn, computation.error)
        return decode("OpmlGame", fn, computation.output) if computation.output else None

    def fails(self, fn: str, *args, sender: int, error: str, value: int = 0) -> None:
        _, computation = self.call(fn, *args, sender=sender, value=value)
        assert not computation.is_success, fn
        assert computation.output[:4] == _selector(error), (fn, computation.output.hex())

    def view(self, fn: str, *args):
        _, c = self.chain.send(self.address, encode("OpmlGame", fn, *args), OTHER)
        assert c.is_success
        return decode("OpmlGame", fn, c.output)

    def state(self, sid: int) -> int:
        return self.view("submissions", sid)[6]

    def submit(self, tamper_op: int | None = None) -> tuple[int, Commitment]:
        c = Commitment(trace(self.model, self.x, tamper_op))
        sid = self.ok("submit", MODEL, self.x, c.values[-1], c.root, sender=SUBMITTER, value=BOND)
        return sid, c

    def to_prove(self, sid: int, c: Commitment, op: int = 0) -> int:
        """Challenge, reveal the roots, pick op `op`, reveal its leaves: returns the challenge id."""
        cid = self.ok("challenge", sid, sender=CHALLENGER, value=CH_BOND)
        self.ok("revealRoots", cid, c.roots, sender=SUBMITTER)
        self.ok("pickOp", cid, op, sender=CHALLENGER)
        self.ok("revealLeaves", cid, c.roots, leaves(c.values[op + 1]), sender=SUBMITTER)
        return cid


def _proof(cid: int, roots: list[bytes], committed: list[bytes], j: int) -> tuple:
    """prove()'s arguments before the input tensors: chunk j's committed leaf and its Merkle proof."""
    return cid, roots, j, committed[j], proof(committed, j)


@pytest.fixture
def game() -> Game:
    return Game()


def test_tampered_submission_is_slashed_and_the_challenger_paid(game):
    sid, theirs = game.submit(tamper_op=1)
    honest = Commitment(trace(game.model, game.x))
    assert theirs.roots[0] == honest.roots[0] and theirs.roots[1] != honest.roots[1]
    before = game.chain.balance(ADDRESSES[CHALLENGER])
    cid = game.to_prove(sid, theirs)
    spent = game.gas["challenge"] + game.gas["pickOp"]
    theirs_leaves = leaves(theirs.values[1])
    j = next(
        i for i, (a, b) in enumerate(zip(theirs_leaves, leaves(honest.values[1]), strict=True)) if a != b
    )
    game.ok("prove", *_proof(cid, theirs.roots, theirs_leaves, j), [honest.values[0]], sender=CHALLENGER)
    spent += game.gas["prove"]
    assert game.state(sid) == SLASHED
    assert game.chain.balance(ADDRESSES[CHALLENGER]) == before + BOND - spent * 2 * 10**9
    assert game.chain.balance(game.address) == 0
    game.fails("finalize", sid, sender=OTHER, error="BadState(string)")
    game.fails("challenge", sid, sender=OTHER, value=CH_BOND, error="BadState(string)")


def test_a_wrong_proof_reverts_and_the_challenger_loses_by_timeout(game):
    sid, c = game.submit()
    cid = game.to_prove(sid, c)
    game.fails(
        "prove",
        *_proof(cid, c.roots, leaves(c.values[1]), 0),
        [c.values[0]],
        sender=CHALLENGER,
        error="ChunkIsCorrect(uint256)",
    )
    committed = leaves(c.values[1])
    for j, leaf, path in ((0, committed[1], proof(committed, 1)), (0, c.roots[1], [])):  # not leaf 0
        game.fails(
            "prove",
            cid,
            c.roots,
            j,
            leaf,
            path,
            [c.values[0]],
            sender=CHALLENGER,
            error="BadCommitment(string)",
        )
    wrong_input = bytes([c.values[0][0] ^ 1]) + c.values[0][1:]
    game.fails(
        "prove",
        *_proof(cid, c.roots, leaves(c.values[1]), 0),
        [wrong_input],
        sender=CHALLENGER,
        error="BadCommitment(string)",
    )
    game.fails(
        "prove",
        *_proof(cid, c.roots, leaves(c.values[1]), 0),
        [c.values[0], c.values[0]],  # one input tensor too many
        sender=CHALLENGER,
        error="BadCommitment(string)",
    )
    game.fails(
        "prove",
        *_proof(cid, c.roots, leaves(c.values[1]), 0),
        [c.values[0]],
        sender=SUBMITTER,
        error="NotYourMove()",
    )
    game.fails("timeout", cid, sender=SUBMITTER, error="TooEarly(uint256)")
    game.fails("finalize", sid, sender=SUBMITTER, error="TooEarly(uint256)")
    game.chain.mine(MOVE)
    before = game.chain.balance(ADDRESSES[SUBMITTER])
    game.ok("timeout", cid, sender=SUBMITTER)
    assert game.chain.balance(ADDRESSES[SUBMITTER]) == before + CH_BOND - game.gas["timeout"] * 2 * 10**9
    game.fails("timeout", cid, sender=SUBMITTER, error="BadState(string)")
    game.chain.mine(WINDOW)
    game.fails("challenge", sid, sender=CHALLENGER, value=CH_BOND, error="BadState(string)")
    game.ok("finalize", sid, sender=OTHER)
    assert game.state(sid) == FINALIZED
    assert game.view("submissions", sid)[5] == 1  # one challenger lost
    game.fails("finalize", sid, sender=OTHER, error="BadState(string)")
    assert game.chain.balance(game.address) == 0


def test_a_submitter_that_misses_its_move_is_slashed(game):
    sid, c = game.submit()
    cid = game.ok("challenge", sid, sender=CHALLENGER, value=CH_BOND)
    bad = list(c.roots)
    bad[1] = keccak(b"other")
    game.fails("revealRoots", cid, bad, sender=SUBMITTER, error="BadCommitment(string)")
    game.fails("revealRoots", cid, c.roots[:-1], sender=SUBMITTER, error="BadCommitment(string)")
    game.fails("revealRoots", cid, c.roots, sender=CHALLENGER, error="NotYourMove()")
    game.chain.mine(MOVE + 1)
    game.fails("revealRoots", cid, c.roots, sender=SUBMITTER, error="Late(uint256)")
    game.ok("timeout", cid, sender=OTHER)
    assert game.state(sid) == SLASHED
    game.chain.mine(WINDOW)
    game.fails("finalize", sid, sender=SUBMITTER, error="BadState(string)")


def test_bonds_models_and_concurrent_challenges(game):
    game.fails(
        "submit",
        MODEL,
        game.x,
        b"\x01",
        b"\x00" * 32,
        sender=SUBMITTER,
        value=BOND - 1,
        error="WrongBond(uint256,uint256)",
    )
    game.fails(
        "submit",
        ADDRESSES[0],
        game.x,
        b"\x01",
        b"\x00" * 32,
        sender=SUBMITTER,
        value=BOND,
        error="NotAModel(address)",
    )
    for x, output in ((game.x[:-1], bytes(10)), (game.x, bytes(9))):  # the MLP takes 784, gives 10 bytes
        game.fails(
            "submit",
            MODEL,
            x,
            output,
            b"\x00" * 32,
            sender=SUBMITTER,
            value=BOND,
            error="BadCommitment(string)",
        )
    sid, theirs = game.submit(tamper_op=2)
    second = game.ok("challenge", sid, sender=OTHER, value=CH_BOND)
    game.fails("challenge", sid, sender=CHALLENGER, value=1, error="WrongBond(uint256,uint256)")
    cid = game.to_prove(sid, theirs, op=1)
    honest = Commitment(trace(game.model, game.x))
    assert theirs.roots[1] == honest.roots[1]
    game.ok(
        "prove",
        *_proof(cid, theirs.roots, leaves(theirs.values[2]), 0),
        [honest.values[1]],
        sender=CHALLENGER,
    )
    assert game.state(sid) == SLASHED
    before = game.chain.balance(ADDRESSES[OTHER])
    game.ok("refund", second, sender=OTHER)
    assert game.chain.balance(ADDRESSES[OTHER]) == before + CH_BOND - game.gas["refund"] * 2 * 10**9
    game.fails("refund", second, sender=OTHER, error="BadState(string)")
    assert game.chain.balance(game.address) == 0


# The shipped ops with the most work per output chunk (MLP op 1: fan-in 784), in total (DCGAN op 2: 1.6M
# MACs, a 4x4 stride-2 transposed conv over 64 channels) and with the largest tensors (CPPN op 10: a 5x5
# depthwise conv on 24x64x64, whose 98 kB input is sent and hashed, 3,072 leaves). The dishonest
# commitment differs from the honest trace in one byte of an interior chunk of op `op`'s output only.
@pytest.mark.parametrize(
    ("path", "op"),
    [("mnist_mlp/mnist_mlp.aiem", 1), ("dcgan/dcgan_generator.aiem", 2), ("cppn/cppn.aiem", 10)],
)
def test_one_step_proof_of_the_largest_ops_costs_under_5m_gas(path, op):
    game = Game(path)
    honest = trace(game.model, game.x)
    j = len(leaves(honest[op])) // 2
    wrong = bytearray(honest[op])
    wrong[j * CHUNK] ^= 1
    theirs = Commitment([*honest[:op], bytes(wrong), *honest[op + 1 :]])
    sid = game.ok("submit", MODEL, game.x, theirs.values[-1], theirs.root, sender=SUBMITTER, value=BOND)
    cid = game.to_prove(sid, theirs, op=op - 1)
    game.ok(
        "prove", *_proof(cid, theirs.roots, leaves(theirs.values[op]), j), [honest[op - 1]], sender=CHALLENGER
    )
    assert game.state(sid) == SLASHED
    assert game.gas["prove"] < 5_000_000

"""`aievm opml demo`: honest and dishonest submissions end to end on a fresh in-process devnet.

One node (automining), the shipped MNIST MLP and CNN deployed as sealed ModelStores, a game with short
windows. Each scenario drives a Submitter and a Challenger in turns until the submission has its
outcome, mining empty blocks (evm_mine) only while both parties wait for a deadline, and reports the
rounds (transactions of the dispute), each party's gas and the wall time from the challenge to the end.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import requests

from evm_ext.model import Model, load_model
from nodes.accounts import dev_accounts
from nodes.opml.agents import Challenger, Submitter
from nodes.opml.client import Game, GameParams, Party, deploy_game

ROOT = Path(__file__).resolve().parents[2]
MODELS = {
    "MNIST MLP": ROOT / "models/mnist_mlp/mnist_mlp.aiem",
    "MNIST CNN": ROOT / "models/mnist_cnn/mnist_cnn.aiem",
}
# (name, --tamper-op, dishonest challenger)
SCENARIOS = [("honest", None, False), ("tampered op 1", 1, False), ("dishonest challenger", None, True)]
DEMO_PARAMS = GameParams(window_blocks=8, move_blocks=4)
# With InferOneStep the challenger first uploads and registers the disputed op's one-op model (about 5
# transactions, each a block on an automining devnet), within its proving move.
INFER_DEMO_PARAMS = GameParams(window_blocks=24, move_blocks=12)


@dataclass(frozen=True)
class Outcome:
    """One scenario's result: the final state word, dispute transactions and gas, time to resolution."""

    scenario: str
    model: str
    status: str
    rounds: int  # dispute transactions: challenge ... one-step proof or timeout
    submitter_gas: int  # the submitter's dispute moves (not the submission or the finalization)
    challenger_gas: int
    proof_gas: int  # the one-step proof transaction (0 if there was none)
    seconds: float


def mine(rpc_url: str, blocks: int = 1) -> None:
    for _ in range(blocks):
        requests.post(
            rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": "evm_mine", "params": []}, timeout=30
        ).raise_for_status()


def mnist_input(model: Model, index: int = 0) -> bytes:
    images = np.load(ROOT / "models/data/mnist_test_images.npy")
    return model.encode_input(images[index].astype(np.float64).reshape(model.input_shape) / 255)


def play(
    rpc_url: str,
    game_address: str,
    model_address: str,
    model: Model,
    x: bytes,
    *,
    tamper_op: int | None = None,
    dishonest: bool = False,
    log=print,
) -> tuple[Submitter, Challenger, float]:
    """Post one submission and run both parties until it has its outcome; returns them and the seconds
    from the first challenge (or the post, if unchallenged) to the outcome."""
    keys = dev_accounts()
    sub_game = Game(Party(rpc_url, keys[1].key.hex()), game_address)
    ch_game = Game(Party(rpc_url, keys[2].key.hex()), game_address)
    challenger = Challenger(ch_game, dishonest=dishonest, log=log, from_block=sub_game.block() + 1)
    submitter = Submitter(sub_game, model_address, model, x, tamper_op, log=log)
    submitter.post()
    start = time.perf_counter()
    while True:
        before = sub_game.party.transactions + ch_game.party.transactions
        challenger.step()
        if submitter.step():
            break
        if sub_game.party.transactions + ch_game.party.transactions == before:
            mine(rpc_url)  # nobody could move: let a deadline or the window pass
    for _ in range(3):  # the challenger hears how it ended
        challenger.step()
    return submitter, challenger, time.perf_counter() - start


def _outcome(scenario: str, model: str, sub: Submitter, ch: Challenger, seconds: float) -> Outcome:
    """Dispute moves and gas exclude the submission itself and its finalization."""
    from nodes.opml.status import describe

    sub_party, ch_party = sub.game.party, ch.game.party
    around = 1 + (sub.finalize_gas > 0)
    return Outcome(
        scenario,
        model,
        describe(sub.game, sub.sid),
        sub_party.transactions + ch_party.transactions - around,
        sub_party.gas_used - sub.post_gas - sub.finalize_gas,
        ch_party.gas_used,
        ch.proof_gas,
        seconds,
    )


def run_demo(
    log=print, models: dict[str, Path] = MODELS, scenarios=SCENARIOS, verifier_kind: str = "plain"
) -> list[Outcome]:
    """Every scenario on every model (one devnet); see the module doc. `verifier_kind` "infer" uses the
    InferOneStep verifier (the devnet has INFER)."""
    from nodes.chain import open_chain
    from nodes.deploy import deploy_model
    from nodes.runner import BackgroundNode

    outcomes = []
    with BackgroundNode(open_chain(None)) as node:
        party = Party(node.url)
        params = INFER_DEMO_PARAMS if verifier_kind == "infer" else DEMO_PARAMS
        game = deploy_game(party, params, verifier_kind)
        log(f"game contract {game}")
        for name, path in models.items():
            model = load_model(path)
            address = deploy_model(model.encode(), node.url, progress=False).address
            x = mnist_input(model) if model.input_size == 784 else bytes(model.input_size)
            for scenario, tamper, dishonest in scenarios:
                log(f"-- {name}: {scenario}")
                sub, ch, seconds = play(
                    node.url,
                    game,
                    address,
                    model,
                    x,
                    tamper_op=tamper,
                    dishonest=dishonest,
                    log=lambda m: log("   " + m),
                )
                outcomes.append(_outcome(scenario, name, sub, ch, seconds))
    return outcomes

"""The whole game over JSON-RPC on an EVM without INFER: the aievm node on fork "cancun-noinfer".

That is py-evm's stock CancunVM (`aievm node --fork cancun --no-infer`: no 0xC0 / 0xC1, the test checks
that a contract executing 0xC0 fails there); the ModelStore upload, the game and a tampered CNN dispute
run exactly as on the aievm chain, through the same client code as `aievm opml`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from eth.vm.forks import CancunVM
from web3 import Web3
from web3.exceptions import ContractLogicError

from evm_ext.model import load_model
from nodes.chain import open_chain
from nodes.deploy import deploy_model
from nodes.opml.client import GameParams, Party, deploy_game
from nodes.opml.demo import mnist_input, play
from nodes.runner import BackgroundNode

ROOT = Path(__file__).resolve().parent.parent


def test_tampered_cnn_dispute_on_stock_cancun_over_json_rpc():
    chain = open_chain(None, fork="cancun-noinfer")
    assert chain.vm_class.__mro__[1] is CancunVM
    with BackgroundNode(chain) as node:
        w3 = Web3(Web3.HTTPProvider(node.url))
        # init code that returns the one-byte runtime 0xC0; calling it must fail: no INFER here
        infer_contract = deploy_raw(node.url, bytes.fromhex("60c060005360016000f3"))
        assert bytes(w3.eth.get_code(infer_contract)) == b"\xc0"
        with pytest.raises(ContractLogicError, match="Invalid opcode 0xc0"):
            w3.eth.call({"to": infer_contract, "data": b""})
        model = load_model(ROOT / "models/mnist_cnn/mnist_cnn.aiem")
        address = deploy_model(model.encode(), node.url, progress=False).address
        game = deploy_game(Party(node.url), GameParams(window_blocks=6, move_blocks=4))
        sub, ch, _ = play(
            node.url, game, address, model, mnist_input(model, 3), tamper_op=3, log=lambda _: None
        )
        assert sub.game.submission(sub.sid)["state"] == 3  # submitter slashed
        assert 0 < ch.proof_gas < 5_000_000
        assert w3.eth.get_balance(game) == 0


def deploy_raw(url: str, init_code: bytes) -> str:
    return Party(url).send(None, init_code, what="raw deployment")["contractAddress"]

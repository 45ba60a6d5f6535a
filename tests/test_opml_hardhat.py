"""The game on Hardhat Network from npm (EthereumJS's EVM: no INFER), over JSON-RPC.

`hardhat node` (tests/hardhat/network.config.js: Cancun, automining, the standard test mnemonic, so
the same dev accounts) serves the chain; the ModelStore upload, the game and the agents are the same code
as `aievm opml`. A tampered CNN submission is slashed by the one-step proof, and a dishonest challenger
against an honest MLP submission loses by timeout after its proof reverts.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from evm_ext.model import load_model
from nodes.deploy import deploy_model
from nodes.opml.client import GameParams, Party, deploy_game
from nodes.opml.demo import mnist_input, play

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "tests" / "hardhat" / "network.config.js"


@pytest.fixture(scope="module")
def hardhat() -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true", "DO_NOT_TRACK": "1"}
    # hardhat's cli.js itself: `npx hardhat` and the bin's bootstrap run it as a child process that would
    # outlive a terminate()
    cli = ROOT / "node_modules/hardhat/internal/cli/cli.js"
    args = ["node", str(cli), "node", "--config", str(CONFIG), "--hostname", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, "hardhat node exited"
            try:
                body = {"jsonrpc": "2.0", "id": 1, "method": "web3_clientVersion", "params": []}
                version = requests.post(url, json=body, timeout=5).json()["result"]
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "hardhat node did not start"
                time.sleep(0.5)
        assert version.startswith("HardhatNetwork/")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_disputes_on_hardhat_network(hardhat):
    params = GameParams(window_blocks=6, move_blocks=4)
    game = deploy_game(Party(hardhat), params)
    cnn = load_model(ROOT / "models/mnist_cnn/mnist_cnn.aiem")
    cnn_address = deploy_model(cnn.encode(), hardhat, progress=False).address
    sub, ch, _ = play(hardhat, game, cnn_address, cnn, mnist_input(cnn, 4), tamper_op=3, log=lambda _: None)
    assert sub.game.submission(sub.sid)["state"] == 3  # submitter slashed
    assert 0 < ch.proof_gas < 5_000_000
    mlp = load_model(ROOT / "models/mnist_mlp/mnist_mlp.aiem")
    mlp_address = deploy_model(mlp.encode(), hardhat, progress=False).address
    sub, ch, _ = play(
        hardhat, game, mlp_address, mlp, mnist_input(mlp, 4), dishonest=True, log=lambda _: None
    )
    s = sub.game.submission(sub.sid)
    assert (s["state"], s["lost"]) == (2, 1)  # finalized, one challenger slashed
    assert sub.game.w3.eth.get_balance(game) == 0

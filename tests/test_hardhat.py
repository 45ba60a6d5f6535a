"""A stock Hardhat 2 project (tests/hardhat: hardhat, hardhat-network-helpers, hardhat-ethers from npm,
the npm solc build as its compiler) runs `npx hardhat test --network aievm` against a node started
here: mine, time.increase, impersonateAccount, setBalance, takeSnapshot/revert, a JsonRpcSigner signing
typed data, contract.on() events, and MNIST through AIPrecompile compiled by Hardhat's own solc."""

from __future__ import annotations

import os
import subprocess

from evm_ext.model import load_model
from nodes.chain import open_chain
from nodes.demo import MODEL_PATH
from nodes.deploy import deploy_model
from nodes.runner import BackgroundNode
from tests.node_fixtures import ROOT

CONFIG = ROOT / "tests" / "hardhat" / "hardhat.config.js"


def test_hardhat_project_runs_against_the_node(tmp_path):
    model = load_model(MODEL_PATH)
    inp = bytes((5 * i) % 256 for i in range(model.input_size))
    with BackgroundNode(open_chain(None)) as node:
        deployed = deploy_model(model.encode(), node.url, progress=False)
        env = {
            **os.environ,
            "AIEVM_RPC_URL": node.url,
            "AIEVM_MODEL": deployed.address,
            "AIEVM_INPUT": "0x" + inp.hex(),
            "AIEVM_OUTPUT": "0x" + model.run_bytes(inp).hex(),
            "AIEVM_HARDHAT_OUT": str(tmp_path),  # artifacts and cache, outside the work tree
            "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true",
            "DO_NOT_TRACK": "1",
        }
        result = subprocess.run(
            ["npx", "--no-install", "hardhat", "test", "--network", "aievm", "--config", str(CONFIG)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "6 passing" in result.stdout
    assert "failing" not in result.stdout and "pending" not in result.stdout
    assert (
        tmp_path / "artifacts" / "tests" / "hardhat" / "contracts" / "Devnet.sol" / "Devnet.json"
    ).is_file()

"""The devnet driven by ethers.js v6 (node_modules/ethers) over real HTTP: tests/js/ethers_e2e.mjs
deploys contracts (a plain one and AIContract), sends transactions, reads receipts, events and logs,
and calls modelInfer; this test checks what it saw against the chain and the engine."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
from web3 import Web3

from evm_ext.model import load_model
from nodes.chain import open_chain
from nodes.demo import AI_CONTRACT, MODEL_PATH, TEST_IMAGES
from nodes.deploy import deploy_model
from nodes.runner import BackgroundNode
from tests.node_fixtures import ROOT, counter_artifact

SCRIPT = ROOT / "tests" / "js" / "ethers_e2e.mjs"


def test_ethers_end_to_end(tmp_path):
    from solidity_patch import compile_source

    assert shutil.which("node"), "node.js is required (make setup installs node_modules)"
    model = load_model(MODEL_PATH)
    image = np.load(TEST_IMAGES)[555].astype(np.float32).reshape(-1) / np.float32(255)
    inp = model.encode_input(image)
    ai = compile_source(AI_CONTRACT, "AIContract.sol")["AIContract"]
    counter = counter_artifact()
    with BackgroundNode(open_chain(None)) as node:
        store = deploy_model(model.encode(), node.url, progress=False)
        spec = {
            "counter": {"abi": counter["abi"], "bytecode": counter["bytecode"]},
            "ai": {"abi": ai["abi"], "bytecode": ai["bytecode"], "model": store.address,
                   "input": "0x" + inp.hex(), "outputSize": model.output_size},
        }
        spec_path = tmp_path / "spec.json"
        spec_path.write_text(json.dumps(spec))
        run = subprocess.run(["node", str(SCRIPT), node.url, str(spec_path)], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        seen = json.loads(run.stdout)
        w3 = Web3(Web3.HTTPProvider(node.url))
        assert seen["blockNumberAfter"] == w3.eth.block_number
        counter_address = seen["counter"]["address"]
        on_chain_count = w3.eth.contract(address=counter_address, abi=counter["abi"]).functions.count().call()
    assert seen["chainId"] == 31337
    assert seen["transfer"] == {"status": 1, "gasUsed": 21000, "type": 2, "balance": str(15 * 10**17)}
    assert seen["counter"]["count"] == on_chain_count == 11
    assert seen["counter"]["event"] == "Bumped" and seen["counter"]["eventAmount"] == 11
    assert seen["counter"]["logs"] == 1
    assert seen["counter"]["revert"] == "TooBig" and seen["counter"]["revertArg"] == 1000
    # transfer, Counter deployment, bump, AIContract deployment: one block each
    assert seen["blockNumberAfter"] - seen["blockNumberBefore"] == 4
    assert bytes.fromhex(seen["ai"]["output"][2:]) == model.run_bytes(inp)
    assert seen["ai"]["gas"] > 21_000
    assert int(np.argmax(model.decode_output(model.run_bytes(inp)))) == 5


@pytest.fixture(autouse=True)
def _node_modules_present():
    assert (ROOT / "node_modules" / "ethers").is_dir(), "run `make setup` (npm ci) first"

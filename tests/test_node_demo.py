"""`aievm demo` and `aievm node` as a user runs them: real subprocesses that end by themselves."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import numpy as np

from evm_ext.model import load_model
from nodes.demo import MODEL_PATH, TEST_IMAGES, TEST_LABELS, pick_samples
from tests.node_fixtures import ROOT, node_process, rpc


def test_demo_classifies_digits_and_exits():
    run = subprocess.run([sys.executable, "-m", "evm_ext.cli", "demo", "--samples", "5"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    rows = re.findall(r"^\s*(\d+)\s+(\d)\s+(\d)\s+([\d,]+)\s+([\d.]+) ms", run.stdout, re.MULTILINE)
    model = load_model(MODEL_PATH)
    images, labels = np.load(TEST_IMAGES), np.load(TEST_LABELS)
    picked = pick_samples(labels, 5)
    assert [int(r[0]) for r in rows] == list(picked)
    for (_, predicted, true, gas, _), index in zip(rows, picked, strict=True):
        x = images[index].astype(np.float32).reshape(-1) / np.float32(255)
        expected = int(np.argmax(model.decode_output(model.run_bytes(model.encode_input(x)))))
        assert int(predicted) == expected
        assert int(true) == labels[index]
        assert int(gas.replace(",", "")) > 21_000
    assert "ModelStore 0x" in run.stdout and "node stopped" in run.stdout


def test_node_options_apply():
    options = ("--chain-id", "999", "--fork", "cancun", "--block-gas-limit", "12000000")
    with node_process(None, *options) as (_, url):
        assert rpc(url, "eth_chainId")["result"] == hex(999)
        assert rpc(url, "web3_clientVersion")["result"].endswith("/cancun")
        block = rpc(url, "eth_getBlockByNumber", ["latest", False])["result"]
        assert block["gasLimit"] == hex(12_000_000)
        assert "requestsHash" not in block  # a Cancun header


def test_node_help_and_bad_options():
    help_text = subprocess.run([sys.executable, "-m", "evm_ext.cli", "node", "--help"], cwd=ROOT,
                               capture_output=True, text=True, timeout=60).stdout
    assert "--data-dir" in help_text and "--block-time" in help_text and "examples:" in help_text
    command = [sys.executable, "-m", "evm_ext.cli", "node", "--in-memory", "--block-gas-limit", "5"]
    bad = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert bad.stderr.startswith("aievm: error:") and "Traceback" not in bad.stderr


def test_node_banner_lists_dev_accounts_and_stops_cleanly():
    proc = subprocess.Popen([sys.executable, "-m", "evm_ext.cli", "node", "--in-memory", "--port", "0"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "Ctrl-C" in line:
            break
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0
    banner = "".join(lines)
    assert re.search(r"listening on http://127\.0\.0\.1:\d+", banner)
    assert "chain id 31337, fork prague" in banner
    accounts = re.findall(r"\((\d)\) (0x[0-9a-fA-F]{40})  private key (0x[0-9a-f]{64})", banner)
    assert len(accounts) == 10
    assert accounts[0][1:] == ("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
                               "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
    assert accounts[9][1] == "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720"

"""Shared helpers of the tests/test_node_*.py files: real nodes over real HTTP, a plain test contract.

`node_process(data_dir)` runs `aievm node` as a subprocess (needed for restart and kill -9 tests);
`BackgroundNode` (nodes.runner) serves an in-process chain on a free port for the rest. The `node` and
`w3` fixtures (one in-memory node per test module, and a web3 client of it) are registered for every
test by tests/conftest.py; a module that needs another chain defines its own `node`.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
import requests
from web3 import Web3

from nodes.chain import open_chain
from nodes.runner import BackgroundNode

ROOT = Path(__file__).resolve().parent.parent

# A plain contract (no INFER) exercising storage, events, custom-error reverts and payable value.
COUNTER_SOURCE = """\
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;

contract Counter {
    uint256 public count;
    event Bumped(address indexed by, uint256 indexed newCount, uint256 amount);
    error TooBig(uint256 amount);

    function bump(uint256 amount) external payable {
        if (amount > 100) revert TooBig(amount);
        count += amount;
        emit Bumped(msg.sender, count, amount);
    }

    function fail() external pure {
        revert("nope");
    }

    function context() external view returns (uint256 number, bytes32 parentHash, uint256 timestamp) {
        return (block.number, blockhash(block.number - 1), block.timestamp);
    }
}
"""


@pytest.fixture(scope="module")
def node():
    """An in-memory devnet (the default fork) served over HTTP for one test module."""
    with BackgroundNode(open_chain(None)) as running:
        yield running


@pytest.fixture(scope="module")
def w3(node) -> Web3:
    return Web3(Web3.HTTPProvider(node.url))


@cache
def counter_artifact() -> dict:
    from solidity_patch import compile_source

    return compile_source(COUNTER_SOURCE, "Counter.sol")["Counter"]


def deploy_counter(w3):
    """Deploy Counter from the first dev account; returns the web3 contract."""
    art = counter_artifact()
    factory = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    tx_hash = factory.constructor().transact({"from": w3.eth.accounts[0]})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    return w3.eth.contract(address=receipt["contractAddress"], abi=art["abi"])


def rpc(url: str, method: str, params: list | None = None, session: requests.Session | None = None) -> dict:
    """One JSON-RPC call; returns the whole response object (result or error)."""
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}
    return (session or requests).post(url, json=body, timeout=30).json()


@contextlib.contextmanager
def node_process(data_dir: Path | None, *extra: str) -> Iterator[tuple[subprocess.Popen, str]]:
    """`aievm node` on a free port in a subprocess; yields (process, url); SIGTERM at exit."""
    where = ["--in-memory"] if data_dir is None else ["--data-dir", str(data_dir)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "evm_ext.cli", "node", "--port", "0", *where, *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        url = _wait_for_url(proc)
        threading.Thread(target=proc.stdout.read, daemon=True).start()  # drain: a full pipe blocks the node
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_for_url(proc: subprocess.Popen, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                raise RuntimeError("node exited before listening:\n" + "".join(seen))
            continue
        seen.append(line)
        match = re.search(r"listening on (http://\S+)", line)
        if match:
            return match.group(1)
    raise RuntimeError("node did not start in time:\n" + "".join(seen))

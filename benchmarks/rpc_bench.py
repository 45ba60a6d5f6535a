"""End to end over JSON-RPC: `aievm node --in-memory` in its own process on loopback, driven by a client.

The model is deployed with `aievm model deploy`'s code and AIContract with the demo's, over RPC; the
figures then use one keep-alive HTTP connection (plain JSON-RPC, no client library overhead).

Figures: latency (median, p95) of a `modelInfer` eth_call and of a tiny eth_call (ModelStore.length()),
transfers with receipts per second and `modelInfer` transactions with receipts per second (each a signed
eth_sendRawTransaction, automined, then eth_getTransactionReceipt; signing is done before the clock starts),
and the node process's RSS sampled over many INFER eth_calls.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import cycle
from urllib.parse import urlsplit

from eth_utils import function_signature_to_4byte_selector

from benchmarks.harness import model_infer_calldata
from benchmarks.stats import summarize
from evm_ext.errors import AievmError
from nodes.accounts import dev_accounts

_PAGE = os.sysconf("SC_PAGE_SIZE")
NODE_START_TIMEOUT_S = 60


def rss_bytes(pid: int) -> int:
    """Resident set size of process `pid` (Linux /proc/PID/statm)."""
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * _PAGE


@contextmanager
def node_process() -> Iterator[tuple[str, subprocess.Popen]]:
    """`aievm node --in-memory --port 0` as a subprocess; yields (RPC URL, process); stopped at exit."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "evm_ext.cli", "node", "--in-memory", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], NODE_START_TIMEOUT_S)
        line = proc.stdout.readline() if ready else ""
        match = re.search(r"(http://\S+)", line)
        if match is None:
            output = line + (proc.stdout.read() if proc.poll() is not None else "")
            raise AievmError(f"`aievm node` gave no URL within {NODE_START_TIMEOUT_S} s: {output!r}")
        yield match.group(1), proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()


class RpcClient:
    """Minimal JSON-RPC 2.0 over one keep-alive HTTP/1.1 connection (stdlib http.client: ~0.1 ms per call,
    where `requests` adds ~2 ms, which would swamp the node's own latency)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        self.path = parts.path or "/"
        self.next_id = 1

    def __call__(self, method: str, *params: object) -> object:
        self.next_id += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": list(params)})
        self.connection.request("POST", self.path, body, {"Content-Type": "application/json"})
        reply = json.loads(self.connection.getresponse().read())
        if "error" in reply:
            raise AievmError(f"node error on {method}: {reply['error']}")
        return reply["result"]

    def close(self) -> None:
        self.connection.close()


def _latencies(fn, calls: int) -> list[float]:
    samples = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return samples


def _signed(
    count: int, to: str, data: bytes, gas: int, gas_price: int, chain_id: int, start_nonce: int, account
) -> list[str]:
    return [
        "0x"
        + bytes(
            account.sign_transaction(
                {
                    "nonce": start_nonce + i,
                    "gasPrice": gas_price,
                    "gas": gas,
                    "to": to,
                    "value": 1 if not data else 0,
                    "data": data,
                    "chainId": chain_id,
                }
            ).raw_transaction
        ).hex()
        for i in range(count)
    ]


def _tx_rate(rpc: RpcClient, raw_txs: list[str]) -> float:
    """Transactions per second, each sent and its receipt fetched (status checked) before the next."""
    start = time.perf_counter()
    for raw in raw_txs:
        receipt = rpc("eth_getTransactionReceipt", rpc("eth_sendRawTransaction", raw))
        if receipt is None or receipt["status"] != "0x1":
            raise AievmError(f"benchmark transaction failed: {receipt}")
    return len(raw_txs) / (time.perf_counter() - start)


def rpc_figures(
    model_bytes: bytes,
    inputs: list[bytes],
    output_size: int,
    *,
    calls: int,
    transactions: int,
    rss_calls: int,
) -> dict:
    """All JSON-RPC figures against a fresh node process holding the model and AIContract."""
    from web3 import HTTPProvider, Web3

    from nodes.demo import deploy_ai_contract
    from nodes.deploy import deploy_model

    account = dev_accounts()[1]
    with node_process() as (url, proc):
        rpc = RpcClient(url)
        w3 = Web3(HTTPProvider(url))
        store = deploy_model(model_bytes, url, progress=False).address
        to_ai = deploy_ai_contract(w3, w3.eth.accounts[0]).address
        infer_data = [model_infer_calldata(bytes.fromhex(store[2:]), inp, output_size) for inp in inputs]
        chain_id = int(rpc("eth_chainId"), 16)
        gas_price = 2 * int(rpc("eth_gasPrice"), 16)
        data_iter = cycle(infer_data)
        infer_call = lambda: rpc("eth_call", {"to": to_ai, "data": "0x" + next(data_iter).hex()}, "latest")  # noqa: E731
        tiny = {"to": store, "data": "0x" + function_signature_to_4byte_selector("length()").hex()}
        tiny_call = lambda: rpc("eth_call", tiny, "latest")  # noqa: E731
        for _ in range(10):
            infer_call(), tiny_call()
        infer_ms = summarize([s * 1e3 for s in _latencies(infer_call, calls)])
        tiny_ms = summarize([s * 1e3 for s in _latencies(tiny_call, calls)])

        nonce = int(rpc("eth_getTransactionCount", account.address, "latest"), 16)
        transfers = _signed(
            transactions, dev_accounts()[2].address, b"", 21_000, gas_price, chain_id, nonce, account
        )
        transfer_rate = _tx_rate(rpc, transfers)
        infer_gas = int(
            rpc(
                "eth_estimateGas", {"from": account.address, "to": to_ai, "data": "0x" + infer_data[0].hex()}
            ),
            16,
        )
        infer_txs = [
            _signed(1, to_ai, data, infer_gas * 2, gas_price, chain_id, nonce + transactions + i, account)[0]
            for i, data in zip(range(transactions), cycle(infer_data), strict=False)
        ]
        infer_tx_rate = _tx_rate(rpc, infer_txs)

        rss = [rss_bytes(proc.pid)]
        step = max(1, rss_calls // 10)
        for i in range(rss_calls):
            infer_call()
            if (i + 1) % step == 0:
                rss.append(rss_bytes(proc.pid))
        rpc.close()
    mb = [r / 2**20 for r in rss]
    return {
        "model_infer_call_ms": infer_ms.as_dict(),
        "tiny_call_ms": tiny_ms.as_dict(),
        "transfers_per_s": transfer_rate,
        "infer_transactions_per_s": infer_tx_rate,
        "transactions": transactions,
        "rss_mb": {
            "calls": rss_calls,
            "start": mb[0],
            "end": mb[-1],
            "max": max(mb),
            "growth": mb[-1] - mb[0],
            "samples": mb,
        },
    }

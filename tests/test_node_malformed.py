"""Junk on the wire gets standard JSON-RPC error codes, and the node keeps serving."""

from __future__ import annotations

import random

import requests

from nodes.server import MAX_BODY_BYTES


def post(url: str, body: bytes | str, session: requests.Session) -> requests.Response:
    return session.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=30)


CASES = [
    # (raw body, expected error code)
    (b"{", -32700),
    (b"not json at all", -32700),
    (b"\xff\xfe\x00garbage", -32700),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"', -32700),
    (b"[" * 100_000 + b"]" * 100_000, -32700),  # nesting deeper than the parser goes
    (b"[]", -32600),
    (b"42", -32600),
    (b'"eth_chainId"', -32600),
    (b'{"id": 1, "method": "eth_chainId"}', -32600),  # no jsonrpc 2.0
    (b'{"jsonrpc": "2.0", "id": 1, "method": 7}', -32600),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "eth_nope", "params": []}', -32601),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": "0x1"}', -32602),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": []}', -32602),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": ["0x12", "latest"]}', -32602),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": ["zz", "latest"]}', -32602),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByNumber", "params": ["0xg", false]}', -32602),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByNumber", "params": [{"a": 1}, "yes"]}', -32602),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [5]}', -32602),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [{"to": "0x1234"}]}', -32602),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": ["0x"]}', -32000),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": ["0xdeadbeef"]}', -32000),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": [null]}', -32602),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "eth_getLogs", "params": [{"topics": [1, 2]}]}', -32602),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "eth_getLogs", "params": [{"fromBlock": "0x0", '
     b'"toBlock": "0xffffffffffff"}]}', -32000),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "evm_revert", "params": ["x"]}', -32602),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "evm_increaseTime", "params": [1e400]}', -32602),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "evm_increaseTime", "params": [' + b"9" * 40 + b']}', -32602),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "evm_mine", "params": ["0x' + b"f" * 20 + b'"]}', -32602),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "anvil_setNonce", "params": ["0x' + b"00" * 20
     + b'", "0x' + b"f" * 20 + b'"]}', -32602),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "anvil_setBalance", "params": ["0x' + b"00" * 20
     + b'", "-1"]}', -32602),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "eth_getStorageAt", "params": ["0x' + b"00" * 20
     + b'", "0x' + b"f" * 80 + b'"]}', -32602),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "eth_feeHistory", "params": ["0x2", "latest", [101]]}', -32602),
]


def test_each_malformed_request_gets_its_code(node):
    session = requests.Session()
    for body, code in CASES:
        response = post(node.url, body, session)
        assert response.status_code == 200, body
        payload = response.json()
        assert payload["jsonrpc"] == "2.0"
        assert payload["error"]["code"] == code, (body, payload)
        assert isinstance(payload["error"]["message"], str) and payload["error"]["message"]


def test_oversized_body_is_refused(node):
    padding = b"a" * MAX_BODY_BYTES
    body = b'{"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": ["' + padding + b'"]}'
    response = post(node.url, body, requests.Session())
    assert response.status_code == 413
    assert response.json()["error"]["code"] == -32600


def test_batch_limits(node):
    session = requests.Session()
    too_many = [{"jsonrpc": "2.0", "id": i, "method": "eth_chainId"} for i in range(1001)]
    assert post(node.url, str(too_many).replace("'", '"'), session).json()["error"]["code"] == -32600
    mixed = b'[1, {"jsonrpc": "2.0", "id": 2, "method": "eth_chainId", "params": []}]'
    first, second = post(node.url, mixed, session).json()
    assert first["error"]["code"] == -32600
    assert second["result"] == "0x7a69"


def test_random_junk_storm_then_still_serving(node):
    rng = random.Random(1234)
    session = requests.Session()
    methods = ["eth_call", "eth_getBalance", "eth_sendRawTransaction", "eth_getLogs", "eth_estimateGas",
               "eth_getBlockByHash", "eth_getTransactionReceipt", "evm_mine", "eth_feeHistory"]
    junk_values = [None, True, -1, 1.5, "0x", "0xzz", "latest", [], {}, {"to": "0x" + "11" * 20},
                   "0x" + "ff" * 40, [[[]]], {"fromBlock": "pending", "address": ["bad"]}]
    codes = set()
    for _ in range(400):
        if rng.random() < 0.3:
            body = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 64)))
        else:
            params = [rng.choice(junk_values) for _ in range(rng.randint(0, 3))]
            request = {"jsonrpc": "2.0", "id": 1, "method": rng.choice(methods), "params": params}
            body = str(request).replace("'", '"').replace("None", "null").replace("True", "true").encode()
        response = post(node.url, body, session)
        assert response.status_code == 200
        payload = response.json()
        if "error" in payload:
            codes.add(payload["error"]["code"])
            assert payload["error"]["code"] != -32603, (body, payload)  # never an internal error
    assert {-32700, -32602} <= codes
    request = {"jsonrpc": "2.0", "id": 9, "method": "eth_chainId", "params": []}
    ok = session.post(node.url, json=request).json()
    assert ok == {"jsonrpc": "2.0", "id": 9, "result": "0x7a69"}

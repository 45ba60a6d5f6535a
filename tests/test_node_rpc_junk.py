"""Every JSON-RPC method, fed junk parameters, answers with a JSON-RPC error or a result, never an
internal error (-32603): a bad request is the client's mistake and says so."""

from __future__ import annotations

import pytest

from nodes.chain import open_chain
from nodes.errors import INTERNAL_ERROR
from nodes.rpc import RpcHandler

JUNK = [
    [],
    [None],
    ["0xzz"],
    [{}],
    [[1, 2]],
    [1, "x", {}],
    [True],
    ["0x" + "ff" * 40, "0x1"],
    [{"a": [None]}, None],
]


@pytest.fixture(scope="module")
def handler():
    return RpcHandler(open_chain(None))


def test_no_method_fails_internally_on_junk(handler):
    failures = []
    for method in sorted(handler.methods):
        for params in JUNK:
            response = handler.handle({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
            if response.get("error", {}).get("code") == INTERNAL_ERROR:
                failures.append((method, params, response["error"]["message"]))
    assert failures == []
    assert len(handler.methods) >= 85  # the whole method table was exercised

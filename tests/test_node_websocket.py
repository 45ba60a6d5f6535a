"""JSON-RPC over WebSocket on the HTTP port: plain calls and eth_subscribe (newHeads, logs)."""

from __future__ import annotations

import asyncio
import json

import aiohttp
from web3 import Web3

from nodes.chain import open_chain
from nodes.runner import BackgroundNode
from tests.node_fixtures import counter_artifact


async def _session(ws_url: str, w3: Web3, counter) -> dict:
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url) as ws:
        async def call(request_id: int, method: str, params: list) -> dict:
            request = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
            await ws.send_str(json.dumps(request))
            return json.loads((await ws.receive(timeout=10)).data)

        seen: dict = {"chain": await call(1, "eth_chainId", [])}
        seen["heads_id"] = (await call(2, "eth_subscribe", ["newHeads"]))["result"]
        seen["logs_id"] = (await call(3, "eth_subscribe", ["logs", {"address": counter.address}]))["result"]
        seen["bad"] = await call(4, "eth_subscribe", ["pendingMagic"])
        await ws.send_str("{broken")
        seen["junk"] = json.loads((await ws.receive(timeout=10)).data)
        # a transaction from another client: one new head and one log
        tx = counter.functions.bump(4).transact({"from": w3.eth.accounts[0]})
        await asyncio.get_running_loop().run_in_executor(None, w3.eth.wait_for_transaction_receipt, tx)
        seen["notes"] = [json.loads((await ws.receive(timeout=10)).data) for _ in range(2)]
        seen["unsub"] = await call(5, "eth_unsubscribe", [seen["heads_id"]])
        w3.eth.send_transaction({"from": w3.eth.accounts[1], "to": w3.eth.accounts[2], "value": 1})
        seen["after_unsub"] = await call(6, "eth_blockNumber", [])  # no newHeads notification in between
        return seen


def test_websocket_calls_and_subscriptions():
    with BackgroundNode(open_chain(None)) as node:
        w3 = Web3(Web3.HTTPProvider(node.url))
        art = counter_artifact()
        factory = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
        tx_hash = factory.constructor().transact({"from": w3.eth.accounts[0]})
        created = w3.eth.wait_for_transaction_receipt(tx_hash)
        counter = w3.eth.contract(address=created["contractAddress"], abi=art["abi"])
        seen = asyncio.run(_session(node.ws_url, w3, counter))
        head = w3.eth.get_block(created["blockNumber"] + 1)
    assert seen["chain"]["result"] == "0x7a69"
    assert seen["bad"]["error"]["code"] == -32602
    assert seen["junk"]["error"]["code"] == -32700
    by_sub = {n["params"]["subscription"]: n["params"]["result"] for n in seen["notes"]}
    assert set(by_sub) == {seen["heads_id"], seen["logs_id"]}
    assert by_sub[seen["heads_id"]]["hash"] == head["hash"].to_0x_hex()
    assert by_sub[seen["heads_id"]]["number"] == hex(head["number"])
    log = by_sub[seen["logs_id"]]
    assert log["address"] == counter.address
    assert int(log["data"], 16) == 4  # Bumped(by indexed, newCount indexed, amount=4)
    assert seen["unsub"]["result"] is True
    assert seen["after_unsub"]["result"] == hex(head["number"] + 1)

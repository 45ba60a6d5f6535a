"""The Anvil/Hardhat dev methods over real HTTP: mining and time, impersonation, polling filters
(web3.py create_filter / get_new_entries), node-side signing, state overrides, the pending tag, the
by-index getters, chain parameters, the pool, reset and state dumps."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from web3 import Web3

from nodes.chain import open_chain
from nodes.runner import BackgroundNode
from tests.node_fixtures import deploy_counter, rpc

ETH = 10**18
STRANGER = "0x00000000000000000000000000000000DeaDBeef"


@pytest.fixture(scope="module")
def counter(w3):
    return deploy_counter(w3)


def _result(node, method, params=None):
    response = rpc(node.url, method, params)
    assert "error" not in response, response
    return response["result"]


def test_mine_count_and_interval(node, w3):
    start = w3.eth.get_block("latest")
    assert _result(node, "anvil_mine", ["0x3", "0xa"]) is None
    assert w3.eth.block_number == start.number + 3
    blocks = [w3.eth.get_block(start.number + i) for i in (1, 2, 3)]
    assert blocks[1].timestamp - blocks[0].timestamp == 10
    assert blocks[2].timestamp - blocks[1].timestamp == 10
    assert _result(node, "hardhat_mine", ["0x2"]) is True  # interval 1 by default
    assert w3.eth.get_block("latest").timestamp - w3.eth.get_block(w3.eth.block_number - 1).timestamp == 1
    assert _result(node, "evm_mine", [{"blocks": 2}]) == "0x0"
    assert w3.eth.block_number == start.number + 7
    assert _result(node, "anvil_mine") is None
    assert w3.eth.block_number == start.number + 8
    assert _result(node, "anvil_mine", ["0x1", "0x0"]) is None  # viem's default: no interval
    refused = rpc(node.url, "hardhat_mine", ["0x1", hex(1 << 40)])
    assert refused["error"]["code"] == -32602


def test_set_next_block_timestamp_then_time_goes_on(node, w3):
    target = w3.eth.get_block("latest").timestamp + 1000
    assert _result(node, "evm_setNextBlockTimestamp", [hex(target)]) is None
    _result(node, "evm_mine")
    assert w3.eth.get_block("latest").timestamp == target
    _result(node, "evm_mine")
    assert target < w3.eth.get_block("latest").timestamp < target + 60
    past = rpc(node.url, "evm_setNextBlockTimestamp", [hex(target)])
    assert past["error"]["code"] == -32602 and "must be after" in past["error"]["message"]


def test_impersonation_sends_as_the_address_and_persists_the_sender(node, w3):
    _result(node, "anvil_setBalance", [STRANGER, hex(5 * ETH)])
    refused = rpc(
        node.url, "eth_sendTransaction", [{"from": STRANGER, "to": w3.eth.accounts[1], "value": "0x1"}]
    )
    assert refused["error"]["code"] == -32000 and "impersonate it first" in refused["error"]["message"]
    assert _result(node, "hardhat_impersonateAccount", [STRANGER]) is True
    before = w3.eth.get_balance(w3.eth.accounts[1])
    tx_hash = w3.eth.send_transaction({"from": STRANGER, "to": w3.eth.accounts[1], "value": ETH})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    assert receipt.status == 1 and receipt["from"] == STRANGER
    assert w3.eth.get_balance(w3.eth.accounts[1]) == before + ETH
    assert w3.eth.get_transaction(tx_hash)["from"] == STRANGER
    traced = _result(node, "debug_traceTransaction", [tx_hash.to_0x_hex(), {"tracer": "callTracer"}])
    assert traced["from"] == STRANGER and traced["value"] == hex(ETH) and traced["gasUsed"] == "0x5208"
    assert _result(node, "anvil_stopImpersonatingAccount", [STRANGER]) is True
    again = rpc(
        node.url, "eth_sendTransaction", [{"from": STRANGER, "to": w3.eth.accounts[1], "value": "0x1"}]
    )
    assert again["error"]["code"] == -32000


def test_web3_create_filter_get_new_entries(w3, counter):
    event_filter = counter.events.Bumped.create_filter(from_block="latest")
    block_filter = w3.eth.filter("latest")
    assert event_filter.get_new_entries() == []
    counter.functions.bump(3).transact({"from": w3.eth.accounts[2]})
    counter.functions.bump(4).transact({"from": w3.eth.accounts[2]})
    entries = event_filter.get_new_entries()
    assert [e.args.amount for e in entries] == [3, 4]
    assert entries[0].args.by == w3.eth.accounts[2]
    assert event_filter.get_new_entries() == []  # reported once
    assert len(block_filter.get_new_entries()) == 2
    assert [e.args.amount for e in event_filter.get_all_entries()] == [4]  # fromBlock "latest"
    assert w3.eth.uninstall_filter(event_filter.filter_id) is True
    assert w3.eth.uninstall_filter(event_filter.filter_id) is False


def test_filter_logs_over_a_range_and_unknown_filter(node, w3, counter):
    first = w3.eth.block_number + 1
    counter.functions.bump(5).transact({"from": w3.eth.accounts[0]})
    filter_id = _result(node, "eth_newFilter", [{"fromBlock": hex(first), "address": counter.address}])
    logs = _result(node, "eth_getFilterLogs", [filter_id])
    assert len(logs) == 1 and int(logs[0]["blockNumber"], 16) == first
    assert len(_result(node, "eth_getFilterChanges", [filter_id])) == 1
    assert rpc(node.url, "eth_getFilterChanges", ["0x123"])["error"] == {
        "code": -32602,
        "message": "filter not found",
    }


def test_signing_with_the_node_accounts(node, w3):
    account = w3.eth.accounts[0]
    signed = _result(node, "personal_sign", ["0x68656c6c6f", account])
    recovered = Account.recover_message(encode_defunct(b"hello"), signature=signed)
    assert recovered == account
    assert _result(node, "eth_sign", [account, "0x68656c6c6f"]) == signed
    typed = {
        "types": {
            "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "chainId", "type": "uint256"}],
            "Permit": [{"name": "owner", "type": "address"}, {"name": "value", "type": "uint256"}],
        },
        "primaryType": "Permit",
        "domain": {"name": "Token", "chainId": 31337},
        "message": {"owner": account, "value": 7},
    }
    signature = _result(node, "eth_signTypedData_v4", [account, typed])
    assert Account.recover_message(encode_typed_data(full_message=typed), signature=signature) == account
    no_key = rpc(node.url, "personal_sign", ["0x00", STRANGER])
    assert no_key["error"]["code"] == -32000 and "only the node's accounts" in no_key["error"]["message"]


def test_state_overrides_in_call_and_estimate(node, w3, counter):
    slot0 = "0x" + "00" * 32
    value = "0x" + (1234).to_bytes(32, "big").hex()
    call = {"to": counter.address, "data": counter.encode_abi("count")}
    plain = int(_result(node, "eth_call", [call, "latest"]), 16)
    overridden = _result(node, "eth_call", [call, "latest", {counter.address: {"stateDiff": {slot0: value}}}])
    assert int(overridden, 16) == 1234 != plain
    assert int(_result(node, "eth_call", [call, "latest"]), 16) == plain  # nothing kept
    rich = {"from": STRANGER, "to": w3.eth.accounts[3], "value": hex(10**30)}
    assert rpc(node.url, "eth_estimateGas", [rich, "latest"])["error"]["code"] in (-32000, 3)
    assert (
        _result(node, "eth_estimateGas", [rich, "latest", {STRANGER: {"balance": hex(10**31)}}]) == "0x5208"
    )


def test_pending_tag_and_pool_without_automine(node, w3, counter):
    a, b = w3.eth.accounts[4], w3.eth.accounts[5]
    count = counter.functions.count().call()
    assert _result(node, "evm_setAutomine", [False]) is True
    try:
        bump = counter.functions.bump(9).transact({"from": w3.eth.accounts[6], "gas": 100_000})
        assert counter.functions.count().call(block_identifier="pending") == count + 9
        assert counter.functions.count().call(block_identifier="latest") == count
        assert _result(node, "txpool_status") == {"pending": "0x1", "queued": "0x0"}
        content = _result(node, "txpool_content")["pending"]
        assert content[w3.eth.accounts[6]]["0"]["hash"] == bump.to_0x_hex()
        _result(node, "evm_mine")
        before = w3.eth.get_balance(b)
        first = w3.eth.send_transaction({"from": a, "to": b, "value": 7})
        second = w3.eth.send_transaction({"from": a, "to": b, "value": 8})
        assert w3.eth.get_balance(b, "pending") == before + 15
        assert w3.eth.get_balance(b, "latest") == before
        pending = _result(node, "eth_getBlockByNumber", ["pending", False])
        assert pending["transactions"] == [first.to_0x_hex(), second.to_0x_hex()]
        assert pending["hash"] is None and int(pending["number"], 16) == w3.eth.block_number + 1
        assert _result(node, "hardhat_dropTransaction", [second.to_0x_hex()]) is True
        assert _result(node, "anvil_dropTransaction", [second.to_0x_hex()]) is None
        _result(node, "evm_mine")
        assert w3.eth.get_balance(b) == before + 7
        block = w3.eth.get_block("latest")
        assert _result(node, "eth_getBlockTransactionCountByNumber", [hex(block.number)]) == "0x1"
        assert _result(node, "eth_getBlockTransactionCountByHash", [block.hash.to_0x_hex()]) == "0x1"
        by_index = _result(node, "eth_getTransactionByBlockNumberAndIndex", [hex(block.number), "0x0"])
        assert by_index["hash"] == first.to_0x_hex()
        assert _result(node, "eth_getTransactionByBlockHashAndIndex", [block.hash.to_0x_hex(), "0x1"]) is None
        assert _result(node, "eth_getUncleCountByBlockNumber", [hex(block.number)]) == "0x0"
        receipts = _result(node, "eth_getBlockReceipts", [hex(block.number)])
        assert [r["transactionHash"] for r in receipts] == [first.to_0x_hex()]
    finally:
        _result(node, "evm_setAutomine", [True])


def test_chain_parameters(node, w3):
    coinbase = "0x000000000000000000000000000000000000c0de"
    assert _result(node, "hardhat_setCoinbase", [coinbase]) is True
    assert _result(node, "hardhat_setNextBlockBaseFeePerGas", ["0x3b9aca07"]) is True
    assert _result(node, "evm_setBlockGasLimit", [hex(25_000_000)]) is True
    assert _result(node, "hardhat_setPrevRandao", ["0x" + "ab" * 32]) is True
    _result(node, "evm_mine")
    block = w3.eth.get_block("latest")
    assert block.mixHash == bytes.fromhex("ab" * 32)
    assert block.miner.lower() == coinbase and block.baseFeePerGas == 0x3B9ACA07
    assert block.gasLimit == 25_000_000
    assert _result(node, "eth_coinbase") == Web3.to_checksum_address(coinbase)
    assert rpc(node.url, "evm_setBlockGasLimit", ["0x10"])["error"]["code"] == -32602
    _result(node, "evm_setBlockGasLimit", [hex(30_000_000)])


def test_dump_and_load_state_and_reset(tmp_path):
    with BackgroundNode(open_chain(None)) as first:
        _result(first, "anvil_setBalance", [STRANGER, "0x1234"])
        _result(first, "anvil_setStorageAt", [STRANGER, "0x5", "0x" + "00" * 31 + "2a"])
        _result(first, "anvil_setCode", [STRANGER, "0x6001600055"])
        blob = _result(first, "anvil_dumpState")
        assert _result(first, "hardhat_reset") is True
        assert _result(first, "eth_blockNumber") == "0x0"
        assert _result(first, "eth_getBalance", [STRANGER, "latest"]) == "0x0"
        refused = rpc(first.url, "hardhat_reset", [{"forking": {"jsonRpcUrl": "http://x"}}])
        assert refused["error"]["code"] == -32602 and "cannot fork" in refused["error"]["message"]
    with BackgroundNode(open_chain(None)) as second:
        assert _result(second, "anvil_loadState", [blob]) is True
        assert _result(second, "eth_getBalance", [STRANGER, "latest"]) == "0x1234"
        assert _result(second, "eth_getStorageAt", [STRANGER, "0x5", "latest"]) == "0x" + "00" * 31 + "2a"
        assert _result(second, "eth_getCode", [STRANGER, "latest"]) == "0x6001600055"
        bad = rpc(second.url, "anvil_loadState", ["0x1f8b00"])
        assert bad["error"]["code"] == -32602 and "not a state dump" in bad["error"]["message"]


def test_aliases_and_small_methods(node, w3):
    assert _result(node, "eth_mining") is True and _result(node, "eth_syncing") is False
    assert _result(node, "net_listening") is True and _result(node, "net_version") == "31337"
    block = w3.eth.get_block("latest")
    assert _result(node, "eth_getUncleCountByBlockHash", [block.hash.to_0x_hex()]) == "0x0"
    assert _result(node, "eth_getUncleByBlockNumberAndIndex", [hex(block.number), "0x0"]) is None
    assert _result(node, "eth_getUncleByBlockHashAndIndex", [block.hash.to_0x_hex(), "0x0"]) is None
    snapshot = _result(node, "anvil_snapshot")
    offset = int(_result(node, "anvil_increaseTime", ["0x10"]), 16)
    assert offset >= 16
    pending_filter = _result(node, "eth_newPendingTransactionFilter")
    stranger = "0x00000000000000000000000000000000000CafE1"
    _result(node, "hardhat_setBalance", [stranger, hex(ETH)])
    assert _result(node, "anvil_autoImpersonateAccount", [True]) is True
    sent = _result(node, "eth_sendTransaction", [{"from": stranger, "to": STRANGER, "value": "0x1"}])
    assert _result(node, "eth_getFilterChanges", [pending_filter]) == [sent]
    assert _result(node, "eth_getFilterChanges", [pending_filter]) == []
    assert _result(node, "anvil_autoImpersonateAccount", [False]) is True
    refused = rpc(node.url, "eth_sendTransaction", [{"from": stranger, "to": STRANGER, "value": "0x1"}])
    assert refused["error"]["code"] == -32000
    assert _result(node, "anvil_revert", [snapshot]) is True
    assert _result(node, "eth_getBalance", [stranger, "latest"]) == "0x0"
    assert _result(node, "eth_uninstallFilter", [pending_filter]) is True


def test_new_pending_transactions_subscription(node, w3):
    async def session() -> tuple[str, dict]:
        async with aiohttp.ClientSession() as http, http.ws_connect(node.ws_url) as ws:
            request = {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "eth_subscribe",
                "params": ["newPendingTransactions"],
            }
            await ws.send_str(json.dumps(request))
            sub_id = json.loads((await ws.receive(timeout=10)).data)["result"]
            loop = asyncio.get_running_loop()
            tx = await loop.run_in_executor(
                None,
                lambda: w3.eth.send_transaction({"from": w3.eth.accounts[7], "to": STRANGER, "value": 3}),
            )
            note = json.loads((await ws.receive(timeout=10)).data)
            assert note["params"]["subscription"] == sub_id
            return tx.to_0x_hex(), note

    tx_hash, note = asyncio.run(session())
    assert note["method"] == "eth_subscription" and note["params"]["result"] == tx_hash

"""LMDB persistence: a restarted node has its blocks, state, receipts, logs and models; kill -9 loses
nothing that was acknowledged; the database layer commits a batch entirely or not at all."""

from __future__ import annotations

import signal
import threading
import time

import pytest
import requests
from web3 import Web3

from evm_ext.model.builder import mlp
from evm_ext.model.identity import model_id
from nodes.accounts import dev_accounts
from nodes.chain import ChainConfigError, open_chain
from nodes.db import DatabaseError, LMDBDatabase
from nodes.deploy import deploy_model
from tests.node_fixtures import counter_artifact, node_process, rpc

ETH = 10**18


def test_db_batch_is_atomic_and_nested_batches_join(tmp_path):
    db = LMDBDatabase(tmp_path / "db")
    db[b"a"] = b"1"
    with pytest.raises(RuntimeError):
        with db.atomic_batch() as batch:
            batch[b"a"] = b"2"
            batch[b"b"] = b"2"
            with db.atomic_batch() as inner:  # py-evm nests batches: they join the outer transaction
                inner[b"c"] = b"3"
                assert db[b"b"] == b"2"  # visible inside the transaction
            raise RuntimeError("abort")
    assert db[b"a"] == b"1" and b"b" not in db and b"c" not in db
    with db.atomic_batch() as batch:
        batch[b"b"] = b"2"
        del batch[b"a"]
    with pytest.raises(DatabaseError, match="in use by another aievm node"):
        LMDBDatabase(tmp_path / "db")  # one node per data directory
    db.close()
    reopened = LMDBDatabase(tmp_path / "db")
    assert reopened[b"b"] == b"2" and not reopened.exists(b"a")
    with pytest.raises(KeyError):
        reopened[b"a"]
    reopened.close()


def test_reopen_keeps_chain_and_refuses_other_config(tmp_path):
    chain = open_chain(str(tmp_path), chain_id=777)
    sender = dev_accounts()[0]
    raw = sender.sign_transaction({"to": dev_accounts()[1].address, "value": 5, "gas": 21_000, "nonce": 0,
                                   "chainId": 777, "maxFeePerGas": 3 * 10**9, "maxPriorityFeePerGas": 1})
    block, receipts, _ = chain.mine([chain.decode_raw_transaction(raw.raw_transaction)])
    chain.db.close()
    again = open_chain(str(tmp_path), chain_id=31337)  # the stored chain id wins
    assert again.chain_id == 777
    assert again.head.hash == block.hash
    assert again.receipts(again.head)[0].gas_used == receipts[0].gas_used == 21_000
    receiver = bytes.fromhex(dev_accounts()[1].address[2:])
    assert again.state_at(again.head).get_balance(receiver) == 10_000 * ETH + 5
    again.db.close()
    with pytest.raises(ChainConfigError):
        open_chain(str(tmp_path / "other"), fork="london")


def test_restart_keeps_balances_code_models_receipts_and_logs(tmp_path):
    data_dir = tmp_path / "chain"
    art = counter_artifact()
    model_bytes = mlp((300, 40, 10)).encode()  # 12,460 bytes: one chunk
    with node_process(data_dir) as (_, url):
        w3 = Web3(Web3.HTTPProvider(url))
        a = w3.eth.accounts
        transfer = w3.eth.send_transaction({"from": a[1], "to": a[2], "value": 7 * ETH})
        factory = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
        created = w3.eth.wait_for_transaction_receipt(factory.constructor().transact({"from": a[0]}))
        counter = w3.eth.contract(address=created["contractAddress"], abi=art["abi"])
        bumped = w3.eth.wait_for_transaction_receipt(counter.functions.bump(9).transact({"from": a[0]}))
        deployment = deploy_model(model_bytes, url, progress=False)
        rpc(url, "anvil_setBalance", [a[5], hex(123)])
        before = {
            "head": w3.eth.get_block("latest"),
            "balances": [w3.eth.get_balance(x) for x in a],
            "receipt": dict(w3.eth.get_transaction_receipt(transfer)),
            "logs": w3.eth.get_logs({"fromBlock": 0, "address": counter.address}),
        }
    with node_process(data_dir) as (_, url):
        w3 = Web3(Web3.HTTPProvider(url))
        assert w3.eth.get_block("latest") == before["head"]
        assert [w3.eth.get_balance(x) for x in a] == before["balances"]
        assert w3.eth.get_balance(a[5]) == 123
        assert dict(w3.eth.get_transaction_receipt(transfer)) == before["receipt"]
        assert w3.eth.get_logs({"fromBlock": 0, "address": counter.address}) == before["logs"]
        assert bumped["transactionHash"] in [entry["transactionHash"] for entry in before["logs"]]
        counter = w3.eth.contract(address=created["contractAddress"], abi=art["abi"])
        assert bytes(w3.eth.get_code(counter.address)) == bytes.fromhex(art["deployedBytecode"][2:])
        assert counter.functions.count().call() == 9
        from evm_ext.contracts import model_store

        store = w3.eth.contract(address=deployment.address, abi=model_store().abi)
        assert store.functions.isSealed().call() is True
        assert bytes(store.functions.modelId().call()) == model_id(model_bytes)
        assert bytes(w3.eth.get_code(store.functions.chunk(0).call()))[1:] == model_bytes
        # and the chain goes on
        receipt = w3.eth.wait_for_transaction_receipt(counter.functions.bump(1).transact({"from": a[0]}))
        assert receipt["blockNumber"] == before["head"]["number"] + 1


def _send_until_stopped(url: str, sender, nonce: int, stop: threading.Event, acknowledged: list[str]) -> None:
    """Send transfers one by one; record each hash the node returned (= acknowledged)."""
    session = requests.Session()
    while not stop.is_set():
        raw = sender.sign_transaction({
            "to": dev_accounts()[9].address, "value": 1, "gas": 21_000, "nonce": nonce,
            "chainId": 31337, "maxFeePerGas": 5 * 10**9, "maxPriorityFeePerGas": 10**9,
        }).raw_transaction
        try:
            reply = rpc(url, "eth_sendRawTransaction", ["0x" + raw.hex()], session)
        except requests.RequestException:
            return  # the node died under us: this one was never acknowledged
        assert "result" in reply, reply
        acknowledged.append(reply["result"])
        nonce += 1


def test_kill_9_loses_nothing_acknowledged(tmp_path):
    """Send transfers from 3 threads, SIGKILL the node mid-stream (3 times); every transaction whose hash
    was returned has its receipt after the restart, and the database opens at a block boundary."""
    data_dir = tmp_path / "chain"
    senders = dev_accounts()[1:4]
    acknowledged: list[str] = []
    for round_ in range(3):
        with node_process(data_dir) as (proc, url):
            stop = threading.Event()
            threads = []
            for sender in senders:
                nonce = int(rpc(url, "eth_getTransactionCount", [sender.address, "latest"])["result"], 16)
                args = (url, sender, nonce, stop, acknowledged)
                threads.append(threading.Thread(target=_send_until_stopped, args=args))
            for t in threads:
                t.start()
            time.sleep(0.6 + 0.3 * round_)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            stop.set()
            for t in threads:
                t.join()
    assert len(acknowledged) > 20
    with node_process(data_dir) as (_, url):
        session = requests.Session()
        head = int(rpc(url, "eth_blockNumber", [], session)["result"], 16)
        assert head >= len(acknowledged)
        for tx_hash in acknowledged:
            receipt = rpc(url, "eth_getTransactionReceipt", [tx_hash], session)["result"]
            assert receipt is not None and receipt["status"] == "0x1", tx_hash
        block = rpc(url, "eth_getBlockByNumber", [hex(head), False], session)["result"]
        assert block["number"] == hex(head)

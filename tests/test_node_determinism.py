"""Mining is deterministic and pinned: a fixed sequence of transfers (legacy, EIP-2930, EIP-1559, a
multi-transaction block, a rejected and a skipped transaction) from a genesis at a fixed time, with
fixed block timestamps, gives exactly these block hashes, state roots and receipts. Performance work
on the node must not move them (same roots, same receipts, same hashes for the same inputs)."""

from __future__ import annotations

import time
from unittest import mock

import pytest
import rlp
from eth_account import Account
from eth_utils import to_checksum_address

from nodes import encode
from nodes.accounts import dev_accounts
from nodes.chain import TransactionRejected, open_chain

GENESIS_TIME = 1_750_000_000
GWEI = 10**9


def _raw(sender: int, nonce: int, kind: str, value: int) -> bytes:
    tx = {"to": dev_accounts()[9].address, "value": value, "gas": 21_000, "nonce": nonce, "chainId": 31337}
    if kind == "legacy":
        tx["gasPrice"] = 7 * GWEI
    elif kind == "2930":
        tx.update(gasPrice=7 * GWEI, accessList=[], type=1)
    else:
        tx.update(maxFeePerGas=9 * GWEI, maxPriorityFeePerGas=2 * GWEI)
    return bytes(dev_accounts()[sender].sign_transaction(tx).raw_transaction)


def _mine_sequence(chain) -> list:
    blocks = []
    timestamp = GENESIS_TIME
    nonces = [0, 0, 0]
    for i in range(12):
        sender = i % 3
        kind = ("legacy", "2930", "1559")[i % 3]
        tx = chain.decode_raw_transaction(_raw(sender, nonces[sender], kind, i + 1))
        nonces[sender] += 1
        chain.validate_transaction(tx)
        timestamp += 1 + i % 2
        blocks.append(chain.mine([tx], timestamp))
    bad_nonce = chain.decode_raw_transaction(_raw(0, 0, "1559", 1))
    with pytest.raises(TransactionRejected):
        chain.mine([bad_nonce], timestamp + 1)
    batch = [chain.decode_raw_transaction(_raw(s, nonces[s], "1559", 100 + s)) for s in range(3)]
    blocks.append(chain.mine([*batch, bad_nonce], timestamp + 2, skip_invalid=True))
    return blocks


def test_fixed_transfer_sequence_gives_pinned_hashes_roots_and_receipts():
    with mock.patch.object(time, "time", return_value=float(GENESIS_TIME)):
        chain = open_chain(None)
    blocks = _mine_sequence(chain)
    last, receipts, computations = blocks[-1]
    assert len(last.transactions) == 3 and not any(c.is_error for c in computations)
    assert chain.head.block_number == 13
    assert [r.gas_used for r in receipts] == [21_000, 42_000, 63_000]
    assert "0x" + blocks[0][0].hash.hex() == PINNED_FIRST_BLOCK_HASH
    assert "0x" + last.hash.hex() == PINNED_LAST_BLOCK_HASH
    assert "0x" + last.header.state_root.hex() == PINNED_STATE_ROOT
    assert "0x" + last.header.receipt_root.hex() == PINNED_RECEIPTS_ROOT
    receipt = encode.receipt_json(last, receipts, 1, [])
    assert receipt["from"] == dev_accounts()[1].address
    assert receipt["effectiveGasPrice"] == PINNED_EFFECTIVE_GAS_PRICE
    stored = chain.chaindb.get_receipts(last.header, chain._receipt_class)
    assert stored == receipts


PINNED_FIRST_BLOCK_HASH = "0xaf324def0f5190734c05b5dad3e581ac0eac29fe910b79e15d54cae830348ed8"
PINNED_LAST_BLOCK_HASH = "0x3e4c4e0c784fd3176a37523a56394e4e6faed70beafe7f13afc97ac2a88ace55"
PINNED_STATE_ROOT = "0xbc93b34d490482d98dcecc9a5a128ad057a31a5d31af9ea11ed01e177d516f4e"
PINNED_RECEIPTS_ROOT = "0x25e6b7af647c519a27cc13276a1e6abc46154b51414d174b072698df1f6c19df"
PINNED_EFFECTIVE_GAS_PRICE = "0x81bd3fe8"


SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        (10, 0, "Bad Signature: failed to recover ECDSA public key"),  # r = 0
        (11, 0, "Bad Signature: failed to recover ECDSA public key"),  # s = 0
        (11, SECP256K1_N + 1, "Bad Signature: Value 1157920892"),  # s >= n
        (9, 2, "Bad Signature: Value 2 is not less than or equal to 1"),  # y_parity
    ],
)
def test_typed_transaction_signature_is_checked_once_with_py_evm_errors(field, value, error):
    chain = open_chain(None)
    fields = rlp.decode(_raw(0, 0, "1559", 1)[1:])
    fields[field] = value
    tx = chain.decode_raw_transaction(b"\x02" + rlp.encode(fields))
    with pytest.raises(TransactionRejected, match=f"invalid transaction: {error}"):
        chain.validate_transaction(tx)


def test_other_valid_signature_recovers_its_own_sender():
    chain = open_chain(None)
    fields = rlp.decode(_raw(0, 0, "1559", 1)[1:])
    fields[10] = 1  # r = 1: a valid signature of some other key
    tx = chain.decode_raw_transaction(b"\x02" + rlp.encode(fields))
    chain.validate_transaction(tx)
    assert "0x" + tx.sender.hex() == "0xd9d4304cebca8bce55ee48aee2034cb0f9956176"
    assert Account.recover_transaction(b"\x02" + rlp.encode(fields)).lower() == "0x" + tx.sender.hex()
    with pytest.raises(TransactionRejected, match="cannot afford txn gas"):  # that account has no funds
        chain.mine([tx])


# counter += calldata[0:32]: PUSH1 0 CALLDATALOAD PUSH1 0 SLOAD ADD PUSH1 0 SSTORE STOP, after its init code
ADDER_RUNTIME = bytes.fromhex("600035600054016000550000")
ADDER_INIT = bytes.fromhex("600c600c600039600c6000f3") + ADDER_RUNTIME


def _contract_tx(nonce: int, to: str | None, data: bytes, gas: int) -> bytes:
    tx = {"value": 0, "gas": gas, "nonce": nonce, "chainId": 31337, "data": data,
          "maxFeePerGas": 9 * GWEI, "maxPriorityFeePerGas": 2 * GWEI}
    if to is not None:
        tx["to"] = to
    return bytes(dev_accounts()[4].sign_transaction(tx).raw_transaction)


def test_storage_writes_and_a_failed_transaction_across_blocks_are_pinned():
    with mock.patch.object(time, "time", return_value=float(GENESIS_TIME)):
        chain = open_chain(None)
    deploy = chain.decode_raw_transaction(_contract_tx(0, None, ADDER_INIT, 100_000))
    chain.validate_transaction(deploy)
    _, receipts, computations = chain.mine([deploy], GENESIS_TIME + 1)
    address = computations[0].msg.storage_address
    to = to_checksum_address(address)
    total = 0
    for i, (amount, gas) in enumerate([(5, 50_000), (7, 50_000), (11, 21_500), (13, 50_000)]):
        tx = chain.decode_raw_transaction(_contract_tx(i + 1, to, amount.to_bytes(32, "big"), gas))
        chain.validate_transaction(tx)
        _, receipts, _ = chain.mine([tx], GENESIS_TIME + 2 + i)
        ok = gas > 21_500  # 21,500 gas runs out: status 0, the write is reverted
        assert receipts[0].state_root == (b"\x01" if ok else b"")
        total += amount if ok else 0
        assert chain.state_at(chain.head).get_storage(address, 0) == total
    assert total == 25
    assert "0x" + chain.head.state_root.hex() == PINNED_STORAGE_STATE_ROOT
    assert "0x" + chain.head.hash.hex() == PINNED_STORAGE_HEAD_HASH


PINNED_STORAGE_STATE_ROOT = "0xeb8796d43fd91645ecb49555aa3cb6575716ef9beddd094ff19cdb5525b4c296"
PINNED_STORAGE_HEAD_HASH = "0xffb8f1ef912e258a909c8460c7366f0966352de9e77ecd333bd3473867e758df"

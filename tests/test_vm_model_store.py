"""ModelStore.sol on a real chain: chunked upload, resume, seal, owner rules, immutability, layout, gas."""

from __future__ import annotations

import json

import pytest
from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector, keccak

from evm_ext.contracts import (
    CHUNK_SIZE,
    HEADER_SLOT,
    ID_SLOT,
    OWNER_SLOT,
    Header,
    append_calldata,
    append_gas,
    build,
    chunk_address,
    model_store,
    seal_calldata,
    seal_gas,
    sealed_accounts,
    upload_plan,
)
from evm_ext.model.identity import chunk_code, chunk_count, model_id
from evm_ext.vm.bytecode import init_code
from evm_ext.vm.forks import CancunInferVM, PragueInferVM
from evm_ext.vm.model_store import MAX_MODEL_BYTES, MODEL_STORE_CODE_HASH
from tests.vm_fixtures import MNIST_MLP, SENDER, SMALL, InferChain, infer_probe, parse_probe, random_inputs

BLOCK_GAS = 30_000_000


def _call(chain: InferChain, to: bytes, signature: str, types: list[str], args: list) -> bytes:
    data = function_signature_to_4byte_selector(signature) + encode(types, args)
    _, computation = chain.send(to, data)
    assert computation.is_success, computation.error
    return computation.output


def _view(chain: InferChain, store: bytes, name: str, result: str = "uint256", *args: int):
    types = ["uint256"] * len(args)
    return decode([result], _call(chain, store, f"{name}({','.join(types)})", types, list(args)))[0]


def _upload(chain: InferChain, data: bytes, sizes: tuple[int, int]) -> tuple[bytes, list[int]]:
    """Deploy a ModelStore, append every chunk, seal; each transaction within its bound and a block."""
    store = chain.deploy(model_store().bytecode)
    gas_used = []
    for chunk in upload_plan(data):
        used, computation = chain.send(store, append_calldata(chunk), gas=append_gas(len(chunk)))
        assert computation.is_success, computation.error
        assert used <= append_gas(len(chunk)) <= BLOCK_GAS
        gas_used.append(used)
    used, computation = chain.send(store, seal_calldata(model_id(data), *sizes), gas=seal_gas(len(data)))
    assert computation.is_success, computation.error
    assert used <= seal_gas(len(data))
    return store, [*gas_used, used]


def test_artifact_is_reproducible_and_pinned_by_the_fork():
    artifact = json.loads(build.ARTIFACT.read_text())
    assert build.build_artifact() == artifact
    assert keccak(model_store().runtime) == model_store().runtime_code_hash == MODEL_STORE_CODE_HASH


@pytest.mark.parametrize("vm_class", [CancunInferVM, PragueInferVM])
def test_upload_gives_exactly_the_documented_layout(vm_class):
    """Two full chunks and a partial one: the state equals `sealed_accounts` (the genesis builder)."""
    data = bytes((i * 7 + 3) % 256 for i in range(2 * CHUNK_SIZE + 1000))
    chain = InferChain(vm_class)
    store, _ = _upload(chain, data, (11, 3))
    state = chain.state
    for address, account in sealed_accounts(data, store, SENDER, 11, 3).items():
        assert state.get_code(address) == account["code"]
        assert state.get_nonce(address) == account["nonce"]
        for slot, value in account["storage"].items():
            assert state.get_storage(address, slot) == value
    assert Header.unpack(state.get_storage(store, HEADER_SLOT)) == Header(len(data), True, 11, 3)
    assert state.get_storage(store, OWNER_SLOT) == int.from_bytes(SENDER, "big")
    assert state.get_storage(store, ID_SLOT).to_bytes(32, "big") == model_id(data)
    assert state.get_code_hash(store) == MODEL_STORE_CODE_HASH
    assert _view(chain, store, "chunkCount") == 3
    assert [_view(chain, store, "chunk", "address", i) for i in range(3)] == [
        "0x" + chunk_address(store, i).hex() for i in range(3)]
    assert _view(chain, store, "modelId", "bytes32") == model_id(data)
    assert (_view(chain, store, "inputSize"), _view(chain, store, "outputSize")) == (11, 3)


def test_owner_rules_chunk_rules_and_a_wrong_id():
    chain = InferChain(PragueInferVM)
    store = chain.deploy(model_store().bytecode)
    fails = [append_calldata(b""), append_calldata(bytes(CHUNK_SIZE + 1)),  # chunk sizes
             seal_calldata(b"\x00" * 32, 1, 1)]  # nothing to seal
    assert [chain.send(store, data)[1].is_success for data in fails] == [False] * 3
    assert chain.send(store, append_calldata(b"\x01" * 100))[1].is_success
    assert not chain.send(store, append_calldata(b"\x02"))[1].is_success  # after a partial chunk
    _, computation = chain.send(store, seal_calldata(b"\x00" * 32, 1, 1))  # wrong id: Mismatch(computed)
    assert not computation.is_success
    assert computation.output[4:] == model_id(b"\x01" * 100)
    assert not chain.send(store, seal_calldata(model_id(b"\x01" * 100), 0, 1))[1].is_success  # no sizes
    assert chain.send(store, seal_calldata(model_id(b"\x01" * 100), 5, 1))[1].is_success
    assert _view(chain, store, "isSealed", "bool") is True


def test_a_sealed_model_is_immutable_and_only_the_owner_uploads():
    """After seal(), no call of the owner changes anything: append, seal and setOwner revert. Before it, a
    non-owner's calls revert too."""
    chain = InferChain(PragueInferVM)
    store, _ = _upload(chain, SMALL.encode(), (16, 4))
    before = {slot: chain.state.get_storage(store, slot) for slot in (HEADER_SLOT, OWNER_SLOT, ID_SLOT)}
    nonce = chain.state.get_nonce(store)
    selector = function_signature_to_4byte_selector("setOwner(address)")
    set_owner = selector + encode(["address"], [b"\x09" * 20])
    attempts = [append_calldata(b"\x05" * 10), seal_calldata(model_id(SMALL.encode()), 16, 4), set_owner]
    for data in attempts:
        _, computation = chain.send(store, data)
        assert not computation.is_success
        assert computation.output == function_signature_to_4byte_selector("AlreadySealed()")
    assert {slot: chain.state.get_storage(store, slot) for slot in before} == before
    assert chain.state.get_nonce(store) == nonce  # no chunk was created
    # a non-owner cannot upload into an unsealed store
    other = chain.deploy(model_store().bytecode)
    assert chain.send(other, set_owner)[1].is_success
    _, computation = chain.send(other, append_calldata(b"\x01"))
    assert computation.output == function_signature_to_4byte_selector("NotOwner()")


def test_uploaded_mnist_mlp_runs_in_infer_and_upload_gas_is_a_third_of_storage():
    """The whole path: deploy, append the shipped model's 3 chunks, seal, INFER. 11.3M gas in 4 transactions
    (storage took 39.1M gas in 4 transactions, about 690 gas per byte)."""
    raw = MNIST_MLP.encode()
    chain = InferChain(PragueInferVM)
    store, gas_used = _upload(chain, raw, (784, 10))
    assert len(gas_used) == 4
    assert 200 * len(raw) < sum(gas_used) < 230 * len(raw)
    probe = chain.deploy(init_code(infer_probe(store, 784, 10)))
    sample = random_inputs(MNIST_MLP, 1, seed=5)[0]
    _, computation = chain.send(probe, sample)
    success, _, output = parse_probe(computation.output)
    assert (success, output) == (1, MNIST_MLP.run_bytes(sample))


def test_sealing_the_largest_model_fits_a_block():
    """seal() of a 32 MiB model (1,366 chunks) hashes 1,366 code hashes, never the bytes: within its bound and
    a 30M block. The chunks come from a genesis allocation (appending 32 MiB would take minutes)."""
    data = bytes(MAX_MODEL_BYTES)
    store = b"\x5a" * 20
    accounts = sealed_accounts(data, store, SENDER, 1, 1)
    accounts[store]["storage"][HEADER_SLOT] = Header(len(data), False, 0, 0).pack()
    del accounts[store]["storage"][ID_SLOT]
    chain = InferChain(PragueInferVM, accounts)
    assert chunk_count(len(data)) == 1_366 == _view(chain, store, "chunkCount")
    used, computation = chain.send(store, seal_calldata(model_id(data), 1, 1), gas=seal_gas(len(data)))
    assert computation.is_success, computation.error
    assert used <= seal_gas(len(data)) < 5_000_000
    assert chain.state.get_storage(store, ID_SLOT).to_bytes(32, "big") == model_id(data)
    assert append_gas(CHUNK_SIZE) < 5_600_000  # and every append fits too
    assert chain.state.get_code(chunk_address(store, 1_365)) == chunk_code(data[1_365 * CHUNK_SIZE:])
    with pytest.raises(ValueError, match="at most"):
        upload_plan(bytes(MAX_MODEL_BYTES + 1))
    with pytest.raises(ValueError, match="empty"):
        upload_plan(b"")

"""ModelStore.sol on a real chain: chunked upload, resume, seal, owner rules, layout and gas bounds."""

from __future__ import annotations

import json

import pytest
from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector, keccak

from evm_ext.contracts import (
    DATA_BASE,
    HASH_SLOT,
    LENGTH_SLOT,
    SEALED_SLOT,
    build,
    model_store,
    seal_calldata,
    seal_gas,
    sealed_storage,
    upload_plan,
    write_calldata,
    write_gas,
)
from evm_ext.vm.bytecode import init_code
from evm_ext.vm.forks import CancunInferVM, PragueInferVM
from evm_ext.vm.model_store import MODEL_STORE_CODE_HASH
from tests.vm_fixtures import MNIST_MLP, SENDER, InferChain, infer_probe, parse_probe, random_inputs

DATA = bytes((i * 7 + 3) % 256 for i in range(1000))  # 31 full words + 8 bytes


def _call(chain: InferChain, to: bytes, signature: str, types: list[str], args: list) -> bytes:
    data = function_signature_to_4byte_selector(signature) + encode(types, args)
    _, computation = chain.send(to, data)
    assert computation.is_success, computation.error
    return computation.output


def _upload(chain: InferChain, data: bytes, budget: int) -> bytes:
    store = chain.deploy(model_store().bytecode)
    for offset, chunk in upload_plan(data, budget):
        gas_used, computation = chain.send(store, write_calldata(offset, chunk), gas=budget)
        assert computation.is_success, computation.error
        assert gas_used <= write_gas(len(chunk)) <= budget
    gas_used, computation = chain.send(store, seal_calldata(), gas=seal_gas(len(data)))
    assert computation.is_success, computation.error
    return store


def test_artifact_is_reproducible_and_pinned_by_the_fork():
    artifact = json.loads(build.ARTIFACT.read_text())
    assert build.build_artifact() == artifact
    assert keccak(model_store().runtime) == model_store().runtime_code_hash == MODEL_STORE_CODE_HASH


@pytest.mark.parametrize("vm_class", [CancunInferVM, PragueInferVM])
def test_upload_in_chunks_then_seal_gives_the_documented_layout(vm_class):
    chain = InferChain(vm_class)
    store = _upload(chain, DATA, budget=60_000 + 23_000 * 8)  # 8 words per write: 4 writes
    assert len(upload_plan(DATA, 60_000 + 23_000 * 8)) == 4
    state = chain.state
    expected = sealed_storage(DATA, SENDER)
    for slot, value in expected.items():
        assert state.get_storage(store, slot) == value
    assert state.get_storage(store, DATA_BASE + 32) == 0  # nothing past the last word
    assert state.get_storage(store, SEALED_SLOT) == 1
    assert state.get_storage(store, LENGTH_SLOT) == 1000
    assert state.get_storage(store, HASH_SLOT).to_bytes(32, "big") == keccak(DATA)
    assert state.get_code_hash(store) == MODEL_STORE_CODE_HASH
    # views
    (length,) = decode(["uint256"], _call(chain, store, "length()", [], []))
    (digest,) = decode(["bytes32"], _call(chain, store, "modelHash()", [], []))
    (is_sealed,) = decode(["bool"], _call(chain, store, "isSealed()", [], []))
    (chunk,) = decode(["bytes"], _call(chain, store, "read(uint256,uint256)", ["uint256", "uint256"],
                                       [37, 900]))
    assert (length, digest, is_sealed, chunk) == (1000, keccak(DATA), True, DATA[37:937])


def test_rewrites_are_idempotent_so_uploads_resume():
    chain = InferChain(PragueInferVM)
    store = chain.deploy(model_store().bytecode)
    plan = upload_plan(DATA, 60_000 + 23_000 * 10)
    for offset, chunk in plan[:2] + plan[:2] + plan[1:]:  # interrupted, then resent from the start
        assert chain.send(store, write_calldata(offset, chunk))[1].is_success
    assert chain.send(store, seal_calldata())[1].is_success
    for slot, value in sealed_storage(DATA, SENDER).items():
        assert chain.state.get_storage(store, slot) == value


def test_owner_only_aligned_and_immutable_after_seal():
    chain = InferChain(PragueInferVM)
    store = chain.deploy(model_store().bytecode)
    assert not chain.send(store, write_calldata(5, b"\x01"))[1].is_success  # unaligned
    assert not chain.send(store, write_calldata(0, b""))[1].is_success  # empty
    assert not chain.send(store, seal_calldata())[1].is_success  # nothing to seal
    assert chain.send(store, write_calldata(0, DATA))[1].is_success
    assert chain.send(store, seal_calldata())[1].is_success
    _, computation = chain.send(store, write_calldata(0, b"\x02" * 32))
    assert computation.is_error
    assert computation.output[:4] == function_signature_to_4byte_selector("AlreadySealed()")
    assert not chain.send(store, seal_calldata())[1].is_success
    assert chain.state.get_storage(store, DATA_BASE) == int.from_bytes(DATA[:32], "big")


def test_only_the_owner_writes():
    chain = InferChain(PragueInferVM)
    store = chain.deploy(model_store().bytecode)
    _call(chain, store, "setOwner(address)", ["address"], [b"\x42" * 20])
    _, computation = chain.send(store, write_calldata(0, DATA))
    assert computation.is_error
    assert computation.output[:4] == function_signature_to_4byte_selector("NotOwner()")
    assert chain.state.get_storage(store, DATA_BASE) == 0


def test_upload_plan_splits_on_aligned_offsets_within_budget():
    data = bytes(range(256)) * 40  # 10240 bytes = 320 words
    plan = upload_plan(data, 1_000_000)
    words_per_tx = (1_000_000 - 60_000) // 23_000
    assert [offset for offset, _ in plan] == list(range(0, 10240, 32 * words_per_tx))
    assert b"".join(chunk for _, chunk in plan) == data
    assert all(write_gas(len(chunk)) <= 1_000_000 for _, chunk in plan)
    with pytest.raises(ValueError, match="below one write"):
        upload_plan(data, 80_000)
    with pytest.raises(ValueError, match="empty"):
        upload_plan(b"", 1_000_000)


def test_uploaded_mnist_mlp_runs_in_infer():
    """The whole path: deploy, upload the shipped model with the plan, seal within the bound, INFER."""
    raw = MNIST_MLP.encode()
    chain = InferChain(PragueInferVM)
    store = _upload(chain, raw, budget=10_000_000)
    assert chain.state.get_storage(store, HASH_SLOT).to_bytes(32, "big") == MNIST_MLP.hash
    probe = chain.deploy(init_code(infer_probe(store, 784, 10)))
    sample = random_inputs(MNIST_MLP, 1, seed=5)[0]
    _, computation = chain.send(probe, sample)
    success, _, output = parse_probe(computation.output)
    assert (success, output) == (1, MNIST_MLP.run_bytes(sample))


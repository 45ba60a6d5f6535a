"""The decoded-model cache never changes a result or a gas amount; INFER sees writes made earlier in its
transaction."""

from __future__ import annotations

import pytest

from evm_ext.contracts import ID_SLOT, Header, append_calldata, chunk_address, seal_calldata, sealed_accounts
from evm_ext.model.identity import CHUNK_SIZE, chunks, model_id
from evm_ext.vm.bytecode import assemble
from evm_ext.vm.forks import PragueInferVM
from evm_ext.vm.model_cache import ABSENT, MODEL_CACHE, CachedModel, ModelCache
from tests.vm_fixtures import (
    MNIST_MLP,
    OUT,
    PROBE,
    SMALL,
    STORE,
    InferChain,
    address,
    failing_accounts,
    infer_probe,
    input_offset,
    parse_probe,
    random_inputs,
    store_accounts,
)


@pytest.fixture(autouse=True)
def fresh_cache():
    """Each test starts with an empty, enabled cache and leaves it that way."""
    MODEL_CACHE.clear()
    yield
    MODEL_CACHE.enabled = True
    MODEL_CACHE.clear()


def _twice(model) -> bytes:
    """INFERs twice in one transaction (the second warm), returns the second's probe result."""
    in_offset = input_offset(model.output_size)
    first = assemble("CALLDATASIZE", 0, in_offset, "CALLDATACOPY", model.output_size, OUT, model.input_size,
                     in_offset, STORE, "INFER", "POP")
    return first + infer_probe(STORE, model.input_size, model.output_size)


def _run_scenarios() -> list[tuple[int, int, bytes]]:
    """(success, gas, output) of INFER on valid and invalid models: cold, then cold again in a second
    transaction (a cache hit when enabled), then twice in one transaction."""
    results = []
    for model, accounts, samples in [
        (MNIST_MLP, store_accounts(MNIST_MLP), random_inputs(MNIST_MLP, 2)),
        (SMALL, store_accounts(SMALL), random_inputs(SMALL, 2)),
        *[(SMALL, accounts, [bytes(16)] * 2) for accounts, _ in failing_accounts(SMALL).values()],
    ]:
        for probe in (infer_probe(STORE, model.input_size, model.output_size), _twice(model)):
            chain = InferChain(PragueInferVM, {**accounts, PROBE: {"code": probe}})
            for sample in samples:
                _, computation = chain.send(PROBE, sample)
                assert computation.is_success
                results.append(parse_probe(computation.output))
    return results


def test_cache_on_and_off_give_identical_outputs_and_gas():
    MODEL_CACHE.enabled = False
    off = _run_scenarios()
    assert len(MODEL_CACHE) == 0
    MODEL_CACHE.enabled = True
    on = _run_scenarios()
    assert on == off
    # 2 valid models + chunk without STOP, malformed, truncated (cached as invalid); the wrong-sizes store
    # shares SMALL's id: the sizes are checked against the store's record, never cached
    assert len(MODEL_CACHE) == 5
    assert [success for success, _, _ in on] == [1] * 8 + [0] * 40


def test_a_tampered_chunk_cannot_alias_a_cached_valid_model():
    """Same store address and recorded id: a chunk whose code differs no longer commits to the id."""
    probe = {"code": infer_probe(STORE, 16, 4)}
    valid = InferChain(PragueInferVM, {**store_accounts(SMALL), PROBE: probe})
    assert parse_probe(valid.send(PROBE, bytes(16))[1].output)[0] == 1
    accounts = store_accounts(SMALL)
    chunk = chunk_address(STORE, 0)
    accounts[chunk] = {"code": accounts[chunk]["code"][:-1] + b"\x07"}
    chain = InferChain(PragueInferVM, {**accounts, PROBE: probe})
    assert parse_probe(chain.send(PROBE, bytes(16))[1].output)[0] == 0


@pytest.mark.parametrize("cache", [True, False])
def test_infer_sees_the_upload_and_seal_made_earlier_in_the_same_transaction(cache):
    """A contract owning an unsealed store appends the last chunk, seals and INFERs in one transaction."""
    MODEL_CACHE.enabled = cache
    model = MNIST_MLP
    raw = model.encode()
    parts = chunks(raw)
    owner = address("owner contract")
    accounts = sealed_accounts(raw[: 2 * CHUNK_SIZE], STORE, owner, 784, 10)
    accounts[STORE]["storage"][0] = Header(2 * CHUNK_SIZE, False, 0, 0).pack()
    del accounts[STORE]["storage"][ID_SLOT]
    append, seal = append_calldata(parts[2]), seal_calldata(model_id(raw), 784, 10)
    sample = random_inputs(model, 1)[0]
    calldata = append + seal + sample
    res = -(-len(calldata) // 32) * 32
    code = assemble(
        "CALLDATASIZE", 0, 0, "CALLDATACOPY",
        0, 0, len(append), 0, 0, STORE, "GAS", "CALL",
        0, 0, len(seal), len(append), 0, STORE, "GAS", "CALL",
        model.output_size, res + 96, model.input_size, len(append) + len(seal), STORE, "INFER",
        res + 64, "MSTORE", res + 32, "MSTORE", res, "MSTORE",
        96 + model.output_size, res, "RETURN",
    )
    chain = InferChain(PragueInferVM, {**accounts, owner: {"code": code},
                                       PROBE: {"code": infer_probe(STORE, 784, 10)}})
    assert parse_probe(chain.send(PROBE, sample)[1].output)[0] == 0  # not sealed yet
    _, computation = chain.send(owner, calldata, gas=20_000_000)
    assert computation.is_success, computation.error
    out = computation.output
    flags = [int.from_bytes(out[i:i + 32], "big") for i in (0, 32, 64)]
    assert flags == [1, 1, 1]  # append, seal, INFER
    assert out[96:] == model.run_bytes(sample)
    assert parse_probe(chain.send(PROBE, sample)[1].output)[:3:2] == (1, model.run_bytes(sample))


def test_cache_is_bounded_by_model_bytes_least_recent_first():
    cache = ModelCache(byte_budget=1000, capacity=3)
    entry = CachedModel(None, 0, 0)
    ids = [bytes([i]) * 32 for i in range(4)]
    for model_key, size in zip(ids[:3], (400, 400, 100), strict=True):
        cache.store(model_key, entry, size)
    assert (len(cache), cache.cached_bytes) == (3, 900)
    assert cache.lookup(ids[0]) is entry  # a hit, now the most recent
    cache.store(ids[3], entry, 300)  # 1200 bytes: the least recent (ids[1]) goes
    assert cache.lookup(ids[1]) is ABSENT
    assert (len(cache), cache.cached_bytes) == (3, 800)
    cache.store(b"\x09" * 32, entry, 5)  # the count capacity evicts ids[2]
    assert cache.lookup(ids[2]) is ABSENT
    assert (len(cache), cache.cached_bytes) == (3, 705)
    cache.store(b"\x0a" * 32, entry, 5000)  # larger than the budget: kept alone
    assert (len(cache), cache.cached_bytes) == (1, 5000)

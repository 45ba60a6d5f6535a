"""The parsed-model cache never changes a result or a gas amount; INFER sees writes made earlier in its tx."""

from __future__ import annotations

import pytest

from evm_ext.contracts import (
    DATA_BASE,
    HASH_SLOT,
    SEALED_SLOT,
    model_store,
    seal_calldata,
    sealed_storage,
    write_calldata,
)
from evm_ext.vm.bytecode import assemble
from evm_ext.vm.forks import PragueInferVM
from evm_ext.vm.model_cache import ABSENT, MODEL_CACHE, ModelCache
from tests.vm_fixtures import (
    MNIST_MLP,
    PROBE,
    SMALL,
    STORE,
    InferChain,
    address,
    failing_accounts,
    infer_probe,
    model_store_account,
    parse_probe,
    random_inputs,
)


@pytest.fixture(autouse=True)
def fresh_cache():
    """Each test starts with an empty, enabled cache and leaves it that way."""
    MODEL_CACHE.clear()
    yield
    MODEL_CACHE.enabled = True
    MODEL_CACHE.clear()


def _run_scenarios() -> list[tuple[int, int, bytes]]:
    """(success, gas, output) of INFER on valid and invalid models, each twice (a miss then a hit)."""
    results = []
    for model, account, samples in [
        (MNIST_MLP, model_store_account(MNIST_MLP.encode()), random_inputs(MNIST_MLP, 2)),
        (SMALL, model_store_account(SMALL.encode()), random_inputs(SMALL, 2)),
        *[(SMALL, account, [bytes(16)] * 2) for account, _ in failing_accounts(SMALL).values() if account],
    ]:
        probe = infer_probe(STORE, model.input_size, model.output_size)
        chain = InferChain(PragueInferVM, {STORE: account, PROBE: {"code": probe}})
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
    assert len(MODEL_CACHE) == 5  # 2 valid models + malformed, truncated, hash mismatch (cached as invalid)
    assert [success for success, _, _ in on] == [1] * 4 + [0] * 12
    assert len(MODEL_CACHE._headers) >= 5  # committed, unwritten accounts: headers cached too


def test_a_wrong_genesis_hash_cannot_alias_a_cached_valid_model():
    """Same address, same recorded hash and length, different bytes: the committed storage root differs."""
    probe = {"code": infer_probe(STORE, 16, 4)}
    valid = InferChain(PragueInferVM, {STORE: model_store_account(SMALL.encode()), PROBE: probe})
    assert parse_probe(valid.send(PROBE, bytes(16))[1].output)[0] == 1
    tampered = model_store_account(SMALL.encode())
    tampered["storage"][DATA_BASE + 3] ^= 1
    chain = InferChain(PragueInferVM, {STORE: tampered, PROBE: probe})
    assert parse_probe(chain.send(PROBE, bytes(16))[1].output)[0] == 0


@pytest.mark.parametrize("cache", [True, False])
def test_infer_sees_the_upload_and_seal_made_earlier_in_the_same_transaction(cache):
    MODEL_CACHE.enabled = cache
    model = MNIST_MLP
    raw = model.encode()
    cut = len(raw) // 64 * 32  # about half, 32-byte aligned
    owner = address("owner contract")
    storage = sealed_storage(raw[:cut], owner) | {SEALED_SLOT: 0, HASH_SLOT: 0}
    write, seal = write_calldata(cut, raw[cut:]), seal_calldata()
    sample = random_inputs(model, 1)[0]
    calldata = write + seal + sample
    res = -(-len(calldata) // 32) * 32
    code = assemble(
        "CALLDATASIZE", 0, 0, "CALLDATACOPY",
        0, 0, len(write), 0, 0, STORE, "GAS", "CALL",
        0, 0, len(seal), len(write), 0, STORE, "GAS", "CALL",
        model.output_size, res + 96, model.input_size, len(write) + len(seal), STORE, "INFER",
        res + 64, "MSTORE", res + 32, "MSTORE", res, "MSTORE",
        96 + model.output_size, res, "RETURN",
    )
    chain = InferChain(PragueInferVM, {STORE: {"code": model_store().runtime, "storage": storage},
                                       owner: {"code": code}, PROBE: {"code": infer_probe(STORE, 784, 10)}})
    assert parse_probe(chain.send(PROBE, sample)[1].output)[0] == 0  # not sealed yet
    _, computation = chain.send(owner, calldata, gas=20_000_000)
    assert computation.is_success, computation.error
    out = computation.output
    flags = [int.from_bytes(out[i:i + 32], "big") for i in (0, 32, 64)]
    assert flags == [1, 1, 1]  # write, seal, INFER
    assert out[96:] == model.run_bytes(sample)
    assert parse_probe(chain.send(PROBE, sample)[1].output)[:3:2] == (1, model.run_bytes(sample))


def test_cache_is_bounded_by_model_bytes_least_recent_first():
    cache = ModelCache(byte_budget=1000, capacity=3)
    keys = [(bytes([i]) * 20, b"", b"", b"", size) for i, size in enumerate((400, 400, 100, 300))]
    for key in keys[:3]:
        cache.store(key, None)
    assert (len(cache), cache.cached_bytes) == (3, 900)
    assert cache.lookup(keys[0]) is None  # a hit (None: an invalid model), now the most recent
    cache.store(keys[3], None)  # 1200 bytes: the least recent (keys[1]) goes
    assert cache.lookup(keys[1]) is ABSENT
    assert (len(cache), cache.cached_bytes) == (3, 800)
    cache.store((b"\x09" * 20, b"", b"", b"", 5), None)  # the count capacity evicts keys[2]
    assert cache.lookup(keys[2]) is ABSENT
    assert (len(cache), cache.cached_bytes) == (3, 705)
    big = (b"\x0a" * 20, b"", b"", b"", 5000)  # larger than the budget: kept alone
    cache.store(big, None)
    assert (len(cache), cache.cached_bytes) == (1, 5000)

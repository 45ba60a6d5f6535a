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
from evm_ext.vm.model_cache import MODEL_CACHE
from tests.test_vm_infer import MNIST_MLP, PROBE, SMALL, STORE, _failing_accounts, _inputs
from tests.vm_fixtures import InferChain, address, infer_probe, model_store_account, parse_probe


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
        (MNIST_MLP, model_store_account(MNIST_MLP.encode()), _inputs(MNIST_MLP, 2)),
        (SMALL, model_store_account(SMALL.encode()), _inputs(SMALL, 2)),
        *[(SMALL, account, [bytes(16)] * 2) for account, _ in _failing_accounts(SMALL).values() if account],
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
    sample = _inputs(model, 1)[0]
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

"""INFER vs the same network in plain Solidity, on the same chain and VM: gas, wall time, equal outputs.

Both run as eth_calls on one BenchChain (the node's DevChain with the INFER fork): the research post's
AIContract calling `infer()` on a sealed ModelStore, and Int8Net (benchmarks/solidity/Int8Net.sol) with the
same model's integer parameters in its storage. Gas includes the 21,000 intrinsic gas and calldata of each
call; wall time is the node's whole eth_call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmarks.baseline import Baseline, plan_layers
from benchmarks.harness import BenchChain, ai_contract, decode_bytes, model_infer_calldata
from evm_ext.model import Model


@dataclass
class Comparison:
    """Per-sample gas and seconds of both implementations, and whether every output matched."""

    infer_gas: list[int]
    infer_s: list[float]
    solidity_gas: list[int]
    solidity_s: list[float]
    outputs_equal: bool
    mismatches: list[int]
    deploy_gas: int
    upload_gas: int
    weight_words: int

    def as_dict(self) -> dict:
        infer_gas, sol_gas = float(np.median(self.infer_gas)), float(np.median(self.solidity_gas))
        infer_s, sol_s = float(np.median(self.infer_s)), float(np.median(self.solidity_s))
        return {
            "samples": len(self.infer_gas),
            "outputs_equal": self.outputs_equal,
            "mismatched_samples": self.mismatches,
            "infer": {"gas": infer_gas, "seconds": infer_s},
            "solidity": {
                "gas": sol_gas,
                "seconds": sol_s,
                "deploy_gas": self.deploy_gas,
                "upload_gas": self.upload_gas,
                "storage_words": self.weight_words,
            },
            "gas_ratio": sol_gas / infer_gas,
            "time_ratio": sol_s / infer_s,
        }


def compare(bench: BenchChain, model: Model, inputs: list[bytes], infer_repeat: int = 5) -> Comparison:
    """Run every input through INFER (best of `infer_repeat` timed calls) and through Int8Net (once)."""
    store = bench.deploy_model(model.encode())
    _, init_code = ai_contract()
    ai, _ = bench.deploy(init_code)
    baseline = Baseline(bench, plan_layers(model))
    result = Comparison([], [], [], [], True, [], baseline.deploy_gas, baseline.upload_gas, baseline.words)
    for index, inp in enumerate(inputs):
        data = model_infer_calldata(store, inp, model.output_size)
        runs = [bench.call(ai, data) for _ in range(infer_repeat)]
        infer_out = decode_bytes(runs[0].output)
        sol = baseline.forward(inp)
        if not (infer_out == sol.output == model.run_bytes(inp)):
            result.outputs_equal = False
            result.mismatches.append(index)
        result.infer_gas.append(runs[0].gas_used)
        result.infer_s.append(min(r.seconds for r in runs))
        result.solidity_gas.append(sol.gas_used)
        result.solidity_s.append(sol.seconds)
    return result

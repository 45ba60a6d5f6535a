"""Calibrate INFER's gas schedule against ECRECOVER, as EIP-1108 and EIP-7883 priced their precompiles.

Two measurements, both on the same machine in the same run. Time is the process's CPU time
(`time.process_time`, BLAS limited to one thread by the fork): what an INFER costs the node, unaffected by
other processes competing for the cores.

1. Per price class (the derivation of `OP_PRICES`): time each op on the engine INFER runs (`op_seconds`)
   on a size sweep and fit `seconds = base + mac * macs + element * elements + weight_byte * weight_bytes`
   (non-negative least squares). Where the end-to-end check disagrees, docs/gas.md says which constants
   were set over the fit.
2. End to end (the check), on a real `PragueInferVM` state holding every model of the sweep
   (`benchmarks/sweep.py`) as a sealed ModelStore with its code chunks, in three cases:
   - cold: a node that has just started (a fresh state over the database: no account, trie or model cache,
     `MODEL_CACHE` disabled) runs one INFER, the first access in its transaction;
   - warm: a second INFER on the same model in the same transaction (the difference between a message
     running 1 + k INFERs and one running 1, on a running node: such an INFER reads no state and decodes
     nothing, so its work does not depend on what the node has cached);
   - MODELINFO, cold.
   Each is paired with a loop of STATICCALLs to ECRECOVER, measured just before it; the ratio of gas/s is
   the median over the pairs. The goal is every row within 0.8x-2.0x of ECRECOVER's gas/s (below 0.8x INFER
   is underpriced, a DoS risk; above 2.0x overpriced); the exit status is 1 if a row is outside the band.
   `--load` runs a memory-bound process on the other core meanwhile (the contended case).

Run: `python -m benchmarks.calibrate_gas` (`--fit` prints fitted op prices, `--json FILE` saves the results,
`--only NAME` limits the sweep, `--load` adds the memory-bound neighbour).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import multiprocessing
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from coincurve import PrivateKey
from eth.chains.base import MiningChain
from eth.db.atomic import AtomicDB
from eth.vm.message import Message
from eth_utils import keccak

from benchmarks.sweep import big_conv, depthwise_conv, elementwise_mix, sweep, tanh_heavy, upsampler
from evm_ext.contracts import sealed_accounts
from evm_ext.model import Model
from evm_ext.model.builder import mlp
from evm_ext.model.ops import Reshape
from evm_ext.vm import gas
from evm_ext.vm.bytecode import assemble
from evm_ext.vm.forks import PragueInferVM
from evm_ext.vm.model_cache import MODEL_CACHE

ECRECOVER = b"\x00" * 19 + b"\x01"
SENDER = b"\x5e" * 20
TARGET_RATIO = 1.3  # prices aim at 1.3x ECRECOVER's gas/s: the middle of the accepted 0.8x-2.0x
CALLER = b"\xca" * 20


# ---------------------------------------------------------------- VM harness


def store_address(name: str) -> bytes:
    """Where VMBench puts the ModelStore of the sweep's model `name`."""
    return keccak(b"model:" + name.encode())[:20]


class VMBench:
    """A PragueInferVM chain holding every model of the sweep as a sealed ModelStore with its chunks."""

    def __init__(self, models: dict[str, Model]) -> None:
        genesis = {SENDER: {"balance": 10**30, "nonce": 0, "code": b"", "storage": {}}}
        for name, model in models.items():
            accounts = sealed_accounts(model.encode(), store_address(name), SENDER, model.input_size,
                                       model.output_size)
            genesis.update({a: {"balance": 0, **account} for a, account in accounts.items()})
        chain_class = MiningChain.configure(vm_configuration=((0, PragueInferVM),), chain_id=1337)
        params = {"difficulty": 0, "gas_limit": 1 << 40, "timestamp": 1, "coinbase": b"\x00" * 20}
        self.chain = chain_class.from_genesis(AtomicDB(), params, genesis)
        self.state = self.fresh_state()
        self.context = self.state.get_transaction_context_class()(gas_price=1, origin=SENDER)

    def fresh_state(self):
        """A state over the chain's database with nothing cached: what a restarted node reads through."""
        return self.chain.get_vm().state  # a new VM builds a new state with an empty account database

    def run(self, code: bytes, state=None, gas_limit: int = 1 << 36) -> tuple[int, float]:
        """(gas used, seconds) of executing `code` as a message to CALLER; raises if it fails."""
        state = state or self.state
        message = Message(gas=gas_limit, to=CALLER, sender=SENDER, value=0, data=b"", code=code)
        start = time.process_time()
        computation = state.computation_class.apply_message(state, message, self.context)
        seconds = time.process_time() - start
        computation.raise_if_error()
        return computation.get_gas_used(), seconds

    def run_cold(self, code: bytes) -> tuple[int, float]:
        """`run` on a fresh state with the model cache disabled: the restarted-node path."""
        enabled, MODEL_CACHE.enabled = MODEL_CACHE.enabled, False
        try:
            return self.run(code, self.fresh_state())
        finally:
            MODEL_CACHE.enabled = enabled


def loop(body: bytes, iterations: int, setup: bytes = b"") -> bytes:
    """Code running `body` `iterations` times (a counter on the stack under the body); with 0 iterations,
    only `setup` (whose gas the calibration subtracts)."""
    if iterations == 0:
        return setup + assemble("STOP")
    head = setup + assemble(iterations)
    start = len(head)
    return head + bytes([0x5B]) + body + assemble(1, "SWAP1", "SUB", "DUP1", start, "JUMPI", "STOP")


def infer_setup(model: Model) -> bytes:
    """Expands memory over the input and output areas of `infer_loop` (a constant input)."""
    n_in, n_out = model.input_size, model.output_size
    return assemble(0x5A, n_in - 1, "MSTORE8", 0, n_in + n_out - 1, "MSTORE8")


def infer_body(model: Model, address: bytes) -> bytes:
    """INFER(model, 0, inSize, inSize, outSize); jumps to an invalid destination (fails) if INFER does."""
    n_in, n_out = model.input_size, model.output_size
    return assemble(n_out, n_in, n_in, 0, address, "INFER", "ISZERO", 0xFFFF, "JUMPI")


def infer_loop(model: Model, address: bytes, iterations: int, first: bool = False) -> bytes:
    """Loop INFER on `model` `iterations` times; `first`: one INFER in the setup, so that every looped
    INFER is warm in the transaction."""
    setup = infer_setup(model) + (infer_body(model, address) if first else b"")
    return loop(infer_body(model, address), iterations, setup)


def modelinfo_loop(address: bytes, iterations: int) -> bytes:
    """Loop MODELINFO(model); fails if it returns 0."""
    return loop(assemble(address, "MODELINFO", "ISZERO", 0xFFFF, "JUMPI"), iterations)


def ecrecover_input() -> bytes:
    key = PrivateKey(b"\x07" * 32)
    digest = keccak(b"aievm")
    signature = key.sign_recoverable(digest, hasher=None)
    r, s, v = signature[:32], signature[32:64], signature[64] + 27
    return digest + v.to_bytes(32, "big") + r + s


def ecrecover_loop(iterations: int) -> bytes:
    data = ecrecover_input()
    setup = b"".join(assemble(data[i:i + 32], i, "MSTORE") for i in range(0, 128, 32))
    body = assemble(32, 128, 128, 0, ECRECOVER, "GAS", "STATICCALL", "POP")
    return loop(body, iterations, setup)


class Calibration:
    """ECRECOVER's rate next to each measurement: `pair(measure)` runs the ECRECOVER loop, then `measure`
    (returning gas and seconds of the operations measured), `rounds` times; the row holds medians."""

    def __init__(self, bench: VMBench, budget_s: float, rounds: int) -> None:
        self.bench, self.budget_s, self.rounds = bench, budget_s, rounds
        bench.run(ecrecover_loop(20))
        calls = max(20, int(20 * budget_s / bench.run(ecrecover_loop(20))[1]))
        self.ec_code = ecrecover_loop(calls)
        self.ec_gas_per_call = bench.run(self.ec_code)[0] / calls
        self.ec_rates: list[float] = []

    def pair(self, measure: Callable[[], tuple[int, float]], count: int) -> dict:
        pairs = []
        for _ in range(self.rounds):
            ec_gas, ec_s = self.bench.run(self.ec_code)
            gas_used, seconds = measure()
            pairs.append((gas_used / seconds, ec_gas / ec_s, seconds, gas_used))
        self.ec_rates += [ec for _, ec, _, _ in pairs]
        return {"gas_per_op": pairs[-1][3] / count,
                "us_per_op": 1e6 * float(np.median([s for _, _, s, _ in pairs])) / count,
                "gas_per_s": float(np.median([r for r, _, _, _ in pairs])),
                "ratio": float(np.median([r / ec for r, ec, _, _ in pairs]))}


def _difference(a: Callable[[], tuple[int, float]], b: Callable[[], tuple[int, float]]):
    """A measurement of what `a` does beyond `b`: (gas of a - gas of b, seconds of a - seconds of b)."""
    def measure() -> tuple[int, float]:
        gas_a, s_a = a()
        gas_b, s_b = b()
        return gas_a - gas_b, max(s_a - s_b, 1e-9)
    return measure


def calibrate(models: dict[str, Model], budget_s: float = 0.03, rounds: int = 5) -> dict:
    """Gas/s of ECRECOVER, and of INFER on each model (cold and warm) and of MODELINFO, and the ratios."""
    bench = VMBench(models)
    cal = Calibration(bench, budget_s, rounds)
    empty = assemble("STOP")
    rows: dict[str, dict] = {}
    for name, model in models.items():
        address = store_address(name)
        setup, one = loop(b"", 0, infer_setup(model)), infer_loop(model, address, 1)
        bench.run_cold(one)  # page in the code paths
        # cold: one INFER from a restarted node, less the same message without it
        cold = cal.pair(_difference(lambda one=one: bench.run_cold(one),
                                    lambda setup=setup: bench.run_cold(setup)), 1)
        # warm: k more INFERs in the same transaction (k fills the budget), measured on a running node:
        # an INFER on a model decoded earlier in its transaction reads no state and decodes nothing, so
        # it does the same work whatever the node has cached, and the first INFER of both messages is
        # then a cache hit, not a cold decode whose jitter (tens of ms for the 32 MiB model, from
        # allocating its program) would swamp the difference
        first = infer_loop(model, address, 0, first=True)
        four = bench.run(infer_loop(model, address, 4, first=True))[1]
        per_warm = max((four - bench.run(first)[1]) / 4, 1e-6)
        k = max(1, min(2000, int(budget_s / per_warm)))
        many = infer_loop(model, address, k, first=True)
        warm = cal.pair(_difference(lambda many=many: bench.run(many),
                                    lambda first=first: bench.run(first)), k)
        info = modelinfo_loop(address, 1)
        modelinfo = cal.pair(_difference(lambda info=info: bench.run_cold(info),
                                         lambda: bench.run_cold(empty)), 1)
        rows[name] = {"macs": sum(c.macs for c in model.op_costs()), "bytes": len(model.encode()),
                      "ops": len(model.ops), "cold": cold, "warm": warm, "modelinfo": modelinfo}
    ec_rate = float(np.median(cal.ec_rates))
    ec = {"gas_per_call": cal.ec_gas_per_call, "us_per_call": 1e6 * cal.ec_gas_per_call / ec_rate,
          "gas_per_s": ec_rate}
    return {"ecrecover": ec, "models": rows}


def _memory_hog(stop) -> None:
    """A memory-bound neighbour: streams a 256 MB array until `stop` is set."""
    data = np.ones(1 << 25)
    while not stop.is_set():
        data.sum()


def op_sweep() -> dict[str, list[tuple[Model, int]]]:
    """Per kind, (model, k): op k of the model (at most its first 16 ops), the sweep's models plus size
    variants."""
    variants = [mlp((n, m)) for n, m in ((4, 4), (256, 64), (4096, 256))] + [
        big_conv(c, hw, k) for c, hw, k in ((2, 4, 3), (8, 12, 5), (16, 16, 3), (4, 28, 5))] + [
        depthwise_conv(c, hw) for c, hw in ((4, 4), (16, 16))] + [
        upsampler(cin, cout, hw) for cin, cout, hw in ((4, 4, 4), (16, 8, 8), (64, 32, 7), (32, 16, 14))] + [
        upsampler(c, c, hw, k=2, slow=True) for c, hw in ((128, 3), (256, 3), (64, 8))] + [
        tanh_heavy(n, 1) for n in (1, 1 << 10)] + [elementwise_mix(n) for n in (1 << 10, 1 << 17)]
    cases: dict[str, list[tuple[Model, int]]] = {}
    for model in [*sweep(largest=False).values(), *variants]:
        for k, op in enumerate(model.ops[:16]):
            cases.setdefault(op.cost().kind, []).append((model, k))
    return cases


def op_seconds(model: Model, k: int, repeats: int) -> float:
    """CPU seconds of op k of `model` on the engine INFER runs (one sample), less the engine's per-call
    cost (the time of an op-less program): an op with one input runs alone, as the one op of a model
    whose input is that value; an op with two or more runs after the ops before it, and their time is
    subtracted (the first k ops alone)."""
    op = model.ops[k]
    if len(op.inputs) == 1:
        source, alone = model.values[op.inputs[0]], copy.copy(op)
        alone.inputs = (0,)
        before, upto = [Reshape((0,), [source], source.shape)], [alone]
    else:
        source, before, upto = model.source, list(model.ops[:k]), list(model.ops[: k + 1])
    x = np.random.default_rng(1).integers(-128, 128, size=(1, *source.shape), dtype=np.int8)
    models = [Model(source, ops) for ops in (before, upto)]
    for m in models:
        m.run(x)  # lowers the model (`Model.program`) outside the timing
    times = [min(_time(m.run, x) for _ in range(repeats)) for m in models]
    return max(times[1] - times[0], 1e-7)


def fit_op_prices(gas_per_second: float, repeats: int = 15) -> dict[str, gas.OpPrice]:
    """Per kind, (base, mac, element, weight_byte) in microgas at `gas_per_second`: non-negative least
    squares on the relative error (each case weighs the same whatever its size). A term whose count is
    always zero for the kind is priced 0, and so are fully connected MACs: with one sample there is one
    MAC per weight, which its weight bytes already count.

    SciPy is imported here, after the end-to-end runs: it loads a second, multi-threaded OpenBLAS, and
    with it loaded every INFER would pay the engine's BLAS thread limit (docs/gas.md, "Derivation").
    """
    from scipy.optimize import nnls

    prices = {}
    for kind, cases in op_sweep().items():
        rows, times = [], []
        for model, k in cases:
            cost = model.ops[k].cost()
            rows.append((1.0, cost.macs, cost.elements, cost.weight_bytes))
            times.append(op_seconds(model, k, repeats))
        a = np.array(rows) / np.array(times)[:, None]
        counts = np.array(rows)
        used = [j for j in range(4) if counts[:, j].any() and not (j == 1 and kind == "fully_connected")]
        coef = np.zeros(4)
        coef[used], _ = nnls(a[:, used], np.ones(len(times)))
        prices[kind] = gas.OpPrice(*(math.ceil(c * gas_per_second * gas.MICROGAS_PER_GAS) for c in coef))
    return prices


def _time(fn: Callable, *args) -> float:
    start = time.process_time()
    fn(*args)
    return time.process_time() - start


CASES = ("cold", "warm", "modelinfo")


def print_table(result: dict) -> list[str]:
    """Print the results as a markdown table; return the rows outside the band ("model (case)")."""
    ec = result["ecrecover"]
    print(f"ECRECOVER: {ec['gas_per_call']:.0f} gas/call, {ec['us_per_call']:.1f} µs/call, "
          f"{ec['gas_per_s'] / 1e6:.1f} Mgas/s")
    print("| model | ops | bytes | cold gas | cold µs | cold ratio | warm gas | warm µs | warm ratio "
          "| MODELINFO ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    outside = []
    for name, row in result["models"].items():
        cold, warm, info = (row[case] for case in CASES)
        cells = [name, row["ops"], f"{row['bytes']:,}"]
        for case in (cold, warm):
            cells += [f"{case['gas_per_op']:,.0f}", f"{case['us_per_op']:,.1f}", f"{case['ratio']:.2f}"]
        print("| " + " | ".join(map(str, [*cells, f"{info['ratio']:.2f}"])) + " |")
        outside += [f"{name} ({case})" for case in CASES if not 0.8 <= row[case]["ratio"] <= 2.0]
    return outside


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fit", action="store_true", help="also fit per-op prices at ECRECOVER's gas/s")
    parser.add_argument("--json", type=Path, help="write the results to this JSON file")
    parser.add_argument("--only", action="append", help="measure only this sweep model (repeatable)")
    parser.add_argument("--load", action="store_true", help="run a memory-bound process meanwhile")
    args = parser.parse_args(argv)
    models = sweep()
    if args.only:
        models = {name: models[name] for name in args.only}
    stop = multiprocessing.Event()
    hog = multiprocessing.Process(target=_memory_hog, args=(stop,), daemon=True) if args.load else None
    if hog:
        hog.start()
    try:
        result = calibrate(models)
    finally:
        if hog:
            stop.set()
            hog.join()
    result["load"] = bool(args.load)
    outside = print_table(result)
    if args.fit:
        target = TARGET_RATIO * result["ecrecover"]["gas_per_s"]
        for kind, price in sorted(fit_op_prices(target).items()):
            print(f'    "{kind}": OpPrice(base={price.base:_}, mac={price.mac:_}, element={price.element:_}, '
                  f'weight_byte={price.weight_byte:_}),')
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    print(f"outside 0.8x-2.0x: {', '.join(outside) or 'none'}")
    return 1 if outside else 0


if __name__ == "__main__":
    raise SystemExit(main())

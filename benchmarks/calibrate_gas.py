"""Calibrate INFER's gas schedule against ECRECOVER, as EIP-1108 and EIP-7883 priced their precompiles.

Two measurements, both on the same machine in the same run. Time is the process's CPU time
(`time.process_time`, BLAS limited to one thread by the fork): what an INFER costs the node, unaffected by
other processes competing for the cores.

1. Per price class (the derivation of `OP_PRICES`): time each op on the engine INFER runs (`op_seconds`)
   on a size sweep and fit `seconds = base + mac * macs + element * elements + weight_byte * weight_bytes`
   (non-negative least squares). Where the end-to-end check disagrees, docs/gas.md says which constants
   were set over the fit.
2. End to end (the check): on a real `PragueInferVM` state, a contract loops INFER on each model of the sweep
   (MLP, the shipped models when present, adversarial shapes) and another loops STATICCALL to ECRECOVER;
   gas/second of each = gas used / CPU time. The goal is INFER gas/s within 0.8x-2.0x of ECRECOVER gas/s
   for every model (below 0.8x INFER would be underpriced, a DoS risk; above 2.0x overpriced); the exit
   status is 1 if a model is outside the band.

Run: `python -m benchmarks.calibrate_gas` (add `--fit` to print fitted op prices, `--json FILE` to save).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from coincurve import PrivateKey
from eth.chains.base import MiningChain
from eth.db.atomic import AtomicDB
from eth.vm.message import Message
from eth_utils import keccak

from evm_ext.contracts import model_store, sealed_storage
from evm_ext.model import Model, load_model
from evm_ext.model.ops import Add as AddOp
from evm_ext.model.ops import (
    ArgMax,
    AvgPool,
    Concat,
    Conv,
    ConvTranspose,
    FullyConnected,
    Lookup,
    MaxPool,
    Mul,
    Requant,
    Reshape,
    Softmax,
    Transpose,
    Value,
)
from evm_ext.tensor.conv import Geometry
from evm_ext.vm import gas
from evm_ext.vm.bytecode import assemble
from evm_ext.vm.forks import PragueInferVM

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = {
    "mnist_mlp": ROOT / "models/mnist_mlp/mnist_mlp.aiem",
    "mnist_cnn": ROOT / "models/mnist_cnn/mnist_cnn.aiem",
    "dcgan": ROOT / "models/dcgan/dcgan_generator.aiem",
}
ECRECOVER = b"\x00" * 19 + b"\x01"
SENDER = b"\x5e" * 20
TARGET_RATIO = 1.3  # prices aim at 1.3x ECRECOVER's gas/s: the middle of the accepted 0.8x-2.0x
CALLER = b"\xca" * 20


# ---------------------------------------------------------------- model zoo (built in code)


class Graph:
    """Builds a Model op by op with random int8 weights; `value(i)` is the i-th value (0 = input).

    `slow`: defeat the engine's weight-dependent fast paths (docs/quantization.md), as an adversary would:
    weights of magnitude 127 (GEMMs in float64, not float32) and requantization shifts of 57 (int64, not
    float64, requantization). Gas depends on the GEMM width (weight bytes) but not on the requantization
    path, so the prices must cover the slow one. `fast`: weights in [-16, 16], so that GEMMs with a fan-in
    up to 8,192 stay float32 (the cheapest pricing of the same shape, for the upper bound).
    """

    def __init__(self, shape: tuple[int, ...], seed: int = 0, slow: bool = False, fast: bool = False) -> None:
        self.rng = np.random.default_rng(seed)
        self.slow, self.fast = slow, fast
        self.values = [Value(shape, 0.05, 0)]
        self.ops: list = []

    def _add(self, op) -> int:
        self.ops.append(op)
        self.values.append(op.out)
        return len(self.values) - 1

    def requant(self, channels: int, fan_in: int) -> Requant:
        shift = 57 if self.slow else 30 + 7 + max(0, math.ceil(math.log2(max(fan_in, 1))) // 2)
        return Requant(0.05, 0, -128, 127, np.full(channels, 1 << 30, np.uint32),
                       np.full(channels, shift, np.uint8))

    def weights(self, *shape: int) -> np.ndarray:
        if self.slow:
            return (127 * self.rng.choice(np.array([-1, 1], np.int8), size=shape)).astype(np.int8)
        bound = 16 if self.fast else 127
        return self.rng.integers(-bound, bound + 1, size=shape, dtype=np.int8)

    def fc(self, i: int, out: int) -> int:
        fan_in = self.values[i].size
        return self._add(FullyConnected((i,), [self.values[i]], self.weights(out, fan_in),
                                        self.rng.integers(-1000, 1000, out, dtype=np.int32),
                                        self.requant(out, fan_in)))

    def conv(self, i: int, cout: int, k: int, groups: int = 1, stride: int = 1,
             pad: int | None = None) -> int:
        """A k x k conv; `pad` on every side, by default k // 2 (the output keeps the input's size)."""
        cin = self.values[i].shape[0]
        geometry = Geometry((k, k), (stride, stride), (1, 1), (k // 2 if pad is None else pad,) * 4)
        return self._add(Conv((i,), [self.values[i]], self.weights(cout, cin // groups, k, k),
                              np.zeros(cout, np.int32), groups, geometry, self.requant(cout, cin * k * k)))

    def conv_transpose(self, i: int, cout: int, k: int, stride: int) -> int:
        cin = self.values[i].shape[0]
        geometry = Geometry((k, k), (stride, stride), (1, 1), (0, 0, 0, 0))
        return self._add(ConvTranspose((i,), [self.values[i]], self.weights(cin, cout, k, k),
                                       np.zeros(cout, np.int32), 1, geometry, (0, 0),
                                       self.requant(cout, cin * k * k)))

    def lookup(self, i: int, fn: Callable[[np.ndarray], np.ndarray] = np.tanh) -> int:
        table = np.clip(np.rint(127 * fn((np.arange(256) - 128) / 32)), -128, 127).astype(np.int8)
        return self._add(Lookup((i,), [self.values[i]], 0.05, 0, table))

    def add(self, a: int, b: int) -> int:
        return self._add(AddOp((a, b), [self.values[a], self.values[b]], 0.05, 0, -128, 127,
                               (1 << 30, 1 << 30), 31))

    def mul(self, a: int, b: int) -> int:
        return self._add(Mul((a, b), [self.values[a], self.values[b]], self.requant(1, 1 << 14)))

    def pool(self, i: int, k: int, average: bool) -> int:
        geometry = Geometry((k, k), (k, k), (1, 1), (0, 0, 0, 0))
        if average:
            return self._add(AvgPool((i,), [self.values[i]], geometry, False))
        return self._add(MaxPool((i,), [self.values[i]], geometry))

    def reshape(self, i: int, shape: tuple[int, ...]) -> int:
        return self._add(Reshape((i,), [self.values[i]], shape))

    def transpose(self, i: int, perm: tuple[int, ...]) -> int:
        return self._add(Transpose((i,), [self.values[i]], perm))

    def concat(self, inputs: tuple[int, ...], axis: int) -> int:
        n = len(inputs)
        rq = Requant(0.05, 0, -128, 127, np.full(n, 1 << 30, np.uint32), np.full(n, 30, np.uint8))
        return self._add(Concat(inputs, [self.values[i] for i in inputs], axis, rq))

    def softmax(self, i: int) -> int:
        table = np.floor((1 << 20) * np.exp(-np.arange(256) / 16)).astype(np.uint32)
        return self._add(Softmax((i,), [self.values[i]], len(self.values[i].shape) - 1, table))

    def argmax(self, i: int) -> int:
        return self._add(ArgMax((i,), [self.values[i]], len(self.values[i].shape) - 1, False))

    def model(self) -> Model:
        return Model(self.values[0], self.ops)


def mlp(sizes: tuple[int, ...] = (784, 128, 10), seed: int = 0) -> Model:
    """FC layers of `sizes` with a ReLU lookup between them (the shape of the MNIST MLP)."""
    g = Graph((sizes[0],), seed)
    i = 0
    for n, out in enumerate(sizes[1:]):
        i = g.fc(i, out)
        if n < len(sizes) - 2:
            i = g.lookup(i, lambda x: np.maximum(x, 0))
    return g.model()


def tiny_ops(n: int = 255) -> Model:
    """`n` one-element lookups: the per-op overhead dominates."""
    g = Graph((1,))
    i = 0
    for _ in range(n):
        i = g.lookup(i)
    return g.model()


def huge_fan_in(fan_in: int = 1 << 15, out: int = 4) -> Model:
    """One FC with the maximum fan-in: MACs without elements."""
    g = Graph((fan_in,))
    g.fc(0, out)
    return g.model()


def big_conv(channels: int = 32, hw: int = 32, k: int = 3, slow: bool = False, fast: bool = False) -> Model:
    """A 3x3 conv, `channels` in and out, on hw x hw."""
    g = Graph((channels, hw, hw), slow=slow, fast=fast)
    g.conv(0, channels, k)
    return g.model()


def weight_bound_fc(size: int = 1536, slow: bool = False) -> Model:
    """One FC `size` -> `size`: a float32 (float64 on the slow path) weight matrix streamed once per INFER."""
    g = Graph((size,), slow=slow, fast=not slow)
    g.fc(0, size)
    return g.model()


def fc_chain(width: int = 700, layers: int = 8, slow: bool = True) -> Model:
    """`layers` FCs `width` -> `width`: each op's weights fit the cache, all of them do not. With the
    defaults, 3.9 MB of float32 operands per layer (a fan-in of 700 keeps float32 even at +-127), 15.7 MB
    together: about the machine's last-level cache, the size whose time depends most on what else runs
    (measured 0.5-1.1 ms per INFER between quiet and busy runs)."""
    g = Graph((width,), slow=slow)
    i = 0
    for _ in range(layers):
        i = g.fc(i, width)
    return g.model()


def conv_to_one_position(channels: int = 512, k: int = 3, slow: bool = True) -> Model:
    """A k x k conv without padding on a k x k input: one output position, a matrix-vector product."""
    g = Graph((channels, k, k), slow=slow)
    g.conv(0, channels, k, pad=0)
    return g.model()


def depthwise_conv(channels: int = 64, hw: int = 32, slow: bool = False) -> Model:
    """A 3x3 depthwise conv: few MACs per output, many elements."""
    g = Graph((channels, hw, hw), slow=slow)
    g.conv(0, channels, 3, groups=channels)
    return g.model()


def tanh_heavy(elements: int = 1 << 16, layers: int = 16) -> Model:
    """A chain of tanh lookups over a large tensor."""
    g = Graph((elements,))
    i = 0
    for _ in range(layers):
        i = g.lookup(i)
    return g.model()


def elementwise_mix(elements: int = 1 << 14) -> Model:
    """Add, Mul, Concat, Transpose, pools, softmax and argmax on mid-size tensors."""
    g = Graph((16, 16, elements // 256))
    a = g.lookup(0)
    b = g.add(0, a)
    c = g.mul(b, a)
    d = g.concat((c, b), 0)
    e = g.transpose(d, (0, 2, 1))
    f = g.pool(e, 2, average=True)
    h = g.pool(f, 2, average=False)
    r = g.reshape(h, (g.values[h].size // 8, 8))
    s = g.softmax(r)
    g.argmax(s)
    return g.model()


def generator(latent: int = 64, slow: bool = False) -> Model:
    """A DCGAN-like generator: FC, reshape, transposed convs, tanh."""
    g = Graph((latent,), slow=slow)
    i = g.fc(0, 64 * 7 * 7)
    i = g.reshape(i, (64, 7, 7))
    i = g.conv_transpose(i, 32, 2, 2)
    i = g.lookup(i, lambda x: np.maximum(x, 0))
    i = g.conv_transpose(i, 1, 2, 2)
    g.lookup(i)
    return g.model()


def upsampler(cin: int, cout: int, hw: int, k: int = 4, stride: int = 2, slow: bool = False,
              fast: bool = False) -> Model:
    """One transposed conv (the DCGAN building block)."""
    g = Graph((cin, hw, hw), slow=slow, fast=fast)
    g.conv_transpose(0, cout, k, stride)
    return g.model()


def sweep() -> dict[str, Model]:
    """The calibration sweep: built models plus the shipped ones that exist."""
    models = {
        "mlp_784_128_10": mlp(),
        "mlp_tiny_4_4": mlp((4, 4)),
        "tiny_ops_255": tiny_ops(),
        "huge_fan_in_32768": huge_fan_in(),
        "big_conv_32x32x32": big_conv(),
        "depthwise_64x32x32": depthwise_conv(),
        "tanh_heavy_64k_x16": tanh_heavy(),
        "elementwise_mix": elementwise_mix(),
        "generator": generator(),
        "big_conv_slow_path": big_conv(128, 8, slow=True),
        "depthwise_slow_path": depthwise_conv(slow=True),
        "generator_slow_path": generator(slow=True),
        "conv_128_on_3x3_slow_path": big_conv(128, 3, slow=True),
        "conv_256_on_3x3_slow_path": big_conv(256, 3, slow=True),
        "conv_512_on_3x3_fast_path": big_conv(512, 3, fast=True),
        "conv_512_on_3x3_slow_path": big_conv(512, 3, slow=True),
        "fc_1536_fast_path": weight_bound_fc(),
        "fc_2000_slow_path": weight_bound_fc(2000, slow=True),
        "fc_chain_8x700_slow_path": fc_chain(),
        "fc_chain_32x350_slow_path": fc_chain(350, 32),
        "conv_512_to_1x1_slow_path": conv_to_one_position(),
        "conv_transpose_512_on_1x1_slow_path": upsampler(512, 512, 1, k=2, slow=True),
        "conv_transpose_512_on_3x3_slow_path": upsampler(512, 512, 3, k=2, slow=True),
        "conv_transpose_512_on_3x3_fast_path": upsampler(512, 512, 3, k=2, fast=True),
    }
    models.update({name: load_model(path) for name, path in SHIPPED.items() if path.exists()})
    return models


# ---------------------------------------------------------------- VM harness


def store_address(name: str) -> bytes:
    """Where VMBench puts the ModelStore of the sweep's model `name`."""
    return keccak(b"model:" + name.encode())[:20]


class VMBench:
    """A PragueInferVM state holding every model of the sweep as a sealed ModelStore."""

    def __init__(self, models: dict[str, Model]) -> None:
        genesis = {SENDER: {"balance": 10**30, "nonce": 0, "code": b"", "storage": {}}}
        for name, model in models.items():
            genesis[store_address(name)] = {"balance": 0, "nonce": 1, "code": model_store().runtime,
                                             "storage": sealed_storage(model.encode(), SENDER)}
        chain_class = MiningChain.configure(vm_configuration=((0, PragueInferVM),), chain_id=1337)
        params = {"difficulty": 0, "gas_limit": 1 << 40, "timestamp": 1, "coinbase": b"\x00" * 20}
        self.state = chain_class.from_genesis(AtomicDB(), params, genesis).get_vm().state
        self.context = self.state.get_transaction_context_class()(gas_price=1, origin=SENDER)

    def run(self, code: bytes, gas_limit: int = 1 << 36) -> tuple[int, float]:
        """(gas used, seconds) of executing `code` as a message to CALLER; raises if it fails."""
        message = Message(gas=gas_limit, to=CALLER, sender=SENDER, value=0, data=b"", code=code)
        start = time.process_time()
        computation = self.state.computation_class.apply_message(self.state, message, self.context)
        seconds = time.process_time() - start
        computation.raise_if_error()
        return computation.get_gas_used(), seconds


def loop(body: bytes, iterations: int, setup: bytes = b"") -> bytes:
    """Code running `body` `iterations` times (a counter on the stack under the body); with 0 iterations,
    only `setup` (whose gas the calibration subtracts)."""
    if iterations == 0:
        return setup + assemble("STOP")
    head = setup + assemble(iterations)
    start = len(head)
    return head + bytes([0x5B]) + body + assemble(1, "SWAP1", "SUB", "DUP1", start, "JUMPI", "STOP")


def infer_loop(model: Model, address: bytes, iterations: int) -> bytes:
    """Loop INFER(model, 0, inSize, inSize, outSize) with a constant input in memory; fails if INFER does.
    The setup expands memory over the input and output areas."""
    n_in, n_out = model.input_size, model.output_size
    setup = assemble(0x5A, n_in - 1, "MSTORE8", 0, n_in + n_out - 1, "MSTORE8")
    body = assemble(n_out, n_in, n_in, 0, address, "INFER", "ISZERO", 0xFFFF, "JUMPI")
    return loop(body, iterations, setup)


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


def paired(bench: VMBench, ec_code: bytes, code: bytes, setup_gas: int, iterations: int,
           rounds: int) -> tuple[dict, list[float]]:
    """`rounds` back-to-back (ECRECOVER loop, `code`) runs, `code` doing `iterations` operations after a
    setup of `setup_gas`. Returns the row (gas and µs per operation, gas/s, ratio to ECRECOVER: medians over
    the pairs) and the ECRECOVER gas/s of each pair."""
    pairs = []
    for _ in range(rounds):
        ec_gas, ec_s = bench.run(ec_code)
        gas_used, seconds = bench.run(code)
        pairs.append(((gas_used - setup_gas) / seconds, ec_gas / ec_s, seconds))
    row = {"gas_per_infer": (gas_used - setup_gas) / iterations,
           "us_per_infer": 1e6 * float(np.median([s for _, _, s in pairs])) / iterations,
           "gas_per_s": float(np.median([r for r, _, _ in pairs])),
           "ratio": float(np.median([r / ec for r, ec, _ in pairs]))}
    return row, [ec for _, ec, _ in pairs]


def calibrate(models: dict[str, Model], budget_s: float = 0.03, rounds: int = 7) -> dict:
    """Gas/s of ECRECOVER, and of INFER on each model (and of MODELINFO), and their ratio.

    The machine may be shared and loaded, so each model is measured in `rounds` back-to-back pairs
    (an ECRECOVER loop, then an INFER loop of about the same duration); the ratio is the median of the
    pairs' ratios, which cancels slow load drift.
    """
    bench = VMBench(models)
    bench.run(ecrecover_loop(20))
    calls = max(20, int(20 * budget_s / bench.run(ecrecover_loop(20))[1]))
    ec_code = ecrecover_loop(calls)
    ec_gas = bench.run(ec_code)[0]
    ec_rates, rows = [], {}
    for name, model in models.items():
        address = store_address(name)
        bench.run(infer_loop(model, address, 1))  # warms the cache and the account
        iterations = max(1, min(2000, int(budget_s / bench.run(infer_loop(model, address, 1))[1])))
        setup_gas = bench.run(infer_loop(model, address, 0))[0]
        row, rates = paired(bench, ec_code, infer_loop(model, address, iterations), setup_gas, iterations,
                            rounds)
        rows[name] = {"macs": sum(c.macs for c in model.op_costs()), "bytes": len(model.encode()),
                      "ops": len(model.ops), **row}
        ec_rates += rates
    name = "mnist_mlp" if "mnist_mlp" in models else next(iter(models))
    row, rates = paired(bench, ec_code, modelinfo_loop(store_address(name), 2000), 0, 2000, rounds)
    rows[f"MODELINFO({name})"] = {"macs": 0, "bytes": rows[name]["bytes"], "ops": 0, **row}
    ec_rate = float(np.median(ec_rates + rates))
    return {"ecrecover": {"gas_per_call": ec_gas / calls, "us_per_call": 1e6 * ec_gas / calls / ec_rate,
                          "gas_per_s": ec_rate}, "models": rows}


# ---------------------------------------------------------------- per-op fit (derivation of OP_PRICES)


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
    for model in [*sweep().values(), *variants]:
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fit", action="store_true", help="also fit per-op prices at ECRECOVER's gas/s")
    parser.add_argument("--json", type=Path, help="write the results to this JSON file")
    args = parser.parse_args(argv)
    result = calibrate(sweep())
    ec = result["ecrecover"]
    print(f"ECRECOVER: {ec['gas_per_call']:.0f} gas/call, {ec['us_per_call']:.1f} µs/call, "
          f"{ec['gas_per_s'] / 1e6:.1f} Mgas/s")
    print("| model | ops | MACs | bytes | gas/INFER | µs/INFER | Mgas/s | ratio to ECRECOVER |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, row in result["models"].items():
        print(f"| {name} | {row['ops']} | {row['macs']:,} | {row['bytes']:,} | {row['gas_per_infer']:,.0f} | "
              f"{row['us_per_infer']:,.1f} | {row['gas_per_s'] / 1e6:.1f} | {row['ratio']:.2f} |")
    if args.fit:
        target = TARGET_RATIO * ec["gas_per_s"]
        for kind, price in sorted(fit_op_prices(target).items()):
            print(f'    "{kind}": OpPrice(base={price.base:_}, mac={price.mac:_}, element={price.element:_}, '
                  f'weight_byte={price.weight_byte:_}),')
        tiny = mlp((4, 4))
        row = result["models"]["mlp_tiny_4_4"]
        fixed = target * row["us_per_infer"] * 1e-6 - gas.compute_gas(tiny.op_costs())
        print(f"G_INFER ~ {fixed - gas.WARM_STORAGE_READ_COST - gas.model_access_gas(len(tiny.encode())):.0f}"
              " (fixed cost of an INFER on the smallest model, loop included)")
        name, row = next((k, v) for k, v in result["models"].items() if k.startswith("MODELINFO("))
        fixed = target * row["us_per_infer"] * 1e-6 - gas.WARM_STORAGE_READ_COST
        print(f"G_MODELINFO ~ {fixed:.0f} (fixed cost of {name}, loop included)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    rows = result["models"]
    low = [name for name, row in rows.items() if row["ratio"] < 0.8]
    high = [name for name, row in rows.items() if row["ratio"] > 2.0]
    print(f"below 0.8x (underpriced, a DoS risk): {', '.join(low) or 'none'}")
    print(f"above 2.0x (overpriced): {', '.join(high) or 'none'}")
    return 1 if low or high else 0


if __name__ == "__main__":
    raise SystemExit(main())

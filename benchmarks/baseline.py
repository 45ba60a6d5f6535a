"""The plain-Solidity baseline: a quantized network run by `solidity/Int8Net.sol` instead of INFER.

`plan_layers(model)` reads the engine's integer parameters out of a decoded `.aiem` Model (weights, bias
folded with the input zero point, per-channel (M, s), zero points, clamp range) into `Int8Layer`s;
`Baseline(bench, layers)` deploys Int8Net (compiled with the project's compiler) and uploads the layer table
and the packed weights in transactions that fit the block gas limit; `Baseline.forward` runs one inference
as an eth_call. The outputs must equal INFER's byte for byte (checked by the bench and tests/test_bench_*).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector, keccak

from benchmarks.harness import BenchChain, CallResult
from evm_ext.errors import AievmError

SOURCE = Path(__file__).resolve().parent / "solidity" / "Int8Net.sol"
ARTIFACT = SOURCE.with_suffix(".json")
FC, CONV, MAXPOOL = 1, 2, 3
LAYER_TYPE = (
    "(uint8,uint16,uint16,uint16,uint16,uint16,uint16,uint8,uint8,uint8,uint8,uint8,uint8,uint8,uint8,"
    "int16,int16,int16,int16,uint32,uint32)"
)
WORDS_PER_WRITE = 1_000  # 1,000 fresh SSTOREs ~ 22.5M gas: one upload transaction per block


class BaselineUnsupportedError(AievmError):
    """The model uses an operator the Solidity baseline does not implement."""


@dataclass
class Int8Layer:
    """One layer of Int8Net. Shapes are (channels, height, width); FC layers use h = w = 1.

    weight: int8 (cout, fan_in) in the engine's (cin, kh, kw) order; bias: int64 with the input zero point
    folded in; m, s: per-channel requantization multiplier and shift.
    """

    kind: int
    cin: int
    cout: int
    h: int = 1
    w: int = 1
    oh: int = 1
    ow: int = 1
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    dilation: tuple[int, int] = (1, 1)
    pad: tuple[int, int] = (0, 0)  # top, left (bottom/right follow from oh, ow)
    zp_in: int = 0
    zp_out: int = 0
    lo: int = -128
    hi: int = 127
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    m: np.ndarray | None = None
    s: np.ndarray | None = None


def weight_words(weight: np.ndarray) -> list[int]:
    """int8 (cout, fan_in) -> storage words: 32 weights per word, lowest byte first, rows word-aligned."""
    cout, fan_in = weight.shape
    row_words = -(-fan_in // 32)
    padded = np.zeros((cout, row_words * 32), dtype=np.int8)
    padded[:, :fan_in] = weight
    raw = padded.tobytes()
    return [int.from_bytes(raw[i : i + 32], "little") for i in range(0, len(raw), 32)]


def param_words(bias: np.ndarray, m: np.ndarray, s: np.ndarray) -> list[int]:
    """Per channel: bias (int128, two's complement in the low 128 bits) | M << 128 | s << 192."""
    mask = (1 << 128) - 1
    return [
        (int(b) & mask) | (int(mm) << 128) | (int(ss) << 192) for b, mm, ss in zip(bias, m, s, strict=True)
    ]


def pack(layers: list[Int8Layer]) -> tuple[list[tuple], list[int]]:
    """The ABI layer table and the storage words (weights then per-channel parameters, layer by layer)."""
    table, words = [], []
    for layer in layers:
        w_off = p_off = 0
        if layer.weight is not None:
            w_off = len(words)
            words += weight_words(layer.weight)
            p_off = len(words)
            words += param_words(layer.bias, layer.m, layer.s)
        table.append(
            (
                layer.kind,
                layer.cin,
                layer.h,
                layer.w,
                layer.cout,
                layer.oh,
                layer.ow,
                *layer.kernel,
                *layer.stride,
                *layer.dilation,
                *layer.pad,
                layer.zp_in,
                layer.zp_out,
                layer.lo,
                layer.hi,
                w_off,
                p_off,
            )
        )
    return table, words


def plan_layers(model) -> list[Int8Layer]:
    """The Int8Net layers of a decoded model (a chain of FullyConnected, Conv, MaxPool and Reshape ops)."""
    from evm_ext.model.ops import Conv, FullyConnected, MaxPool, Reshape
    from evm_ext.tensor.linear import fold_input_zero_point

    layers, x = [], model.source
    for index, op in enumerate(model.ops):
        if op.inputs != (index,):
            raise BaselineUnsupportedError(
                "the Solidity baseline runs chains only (each op reads the previous)"
            )
        if isinstance(op, Reshape):
            x = op.out  # flat row-major storage: a reshape moves nothing
            continue
        chw = x.shape if len(x.shape) == 3 else (x.shape[0], 1, 1)
        common = dict(cin=chw[0], h=chw[1], w=chw[2], zp_in=x.zero_point)
        if isinstance(op, FullyConnected | Conv):
            rq = op.requant
            axes = tuple(range(1, op.weight.ndim))
            common.update(
                zp_out=rq.zero_point,
                lo=rq.lo,
                hi=rq.hi,
                weight=op.weight.reshape(op.weight.shape[0], -1),
                bias=fold_input_zero_point(op.weight, op.bias, x.zero_point, axes),
                m=rq.m,
                s=rq.shift,
            )
        if isinstance(op, FullyConnected):
            layers.append(Int8Layer(kind=FC, cout=op.out.shape[0], **common))
        elif isinstance(op, Conv | MaxPool):
            if isinstance(op, Conv) and op.groups != 1:
                raise BaselineUnsupportedError("the Solidity baseline has no grouped convolution")
            g = op.geometry
            layers.append(
                Int8Layer(
                    kind=CONV if isinstance(op, Conv) else MAXPOOL,
                    cout=op.out.shape[0],
                    oh=op.out.shape[1],
                    ow=op.out.shape[2],
                    kernel=g.kernel,
                    stride=g.stride,
                    dilation=g.dilation,
                    pad=g.pads[:2],
                    **common,
                )
            )
        else:
            raise BaselineUnsupportedError(f"the Solidity baseline has no {type(op).__name__} op")
        x = op.out
    return layers


@cache
def artifact() -> tuple[list, bytes]:
    """(abi, init code) of Int8Net compiled with the project's compiler (solidity_patch).

    The build is committed as solidity/Int8Net.json with the keccak of the source it was built from
    (compiling via IR takes ~10 s); a stale or missing build is recompiled (`python -m benchmarks.baseline`).
    """
    source = SOURCE.read_text()
    if ARTIFACT.exists():
        built = json.loads(ARTIFACT.read_text())
        if built["sourceKeccak"] == "0x" + keccak(text=source).hex():
            return built["abi"], bytes.fromhex(built["bytecode"].removeprefix("0x"))
    return compile_baseline(source)


def compile_baseline(source: str) -> tuple[list, bytes]:
    from solidity_patch import compile_source

    compiled = compile_source(source, SOURCE.name)["Int8Net"]
    return compiled["abi"], bytes.fromhex(compiled["bytecode"].removeprefix("0x"))


def write_artifact() -> None:
    """Rebuild solidity/Int8Net.json from the source."""
    source = SOURCE.read_text()
    abi, init_code = compile_baseline(source)
    ARTIFACT.write_text(
        json.dumps(
            {
                "sourceKeccak": "0x" + keccak(text=source).hex(),
                "abi": abi,
                "bytecode": "0x" + init_code.hex(),
            },
            indent=1,
        )
        + "\n"
    )


def _selector(signature: str) -> bytes:
    return function_signature_to_4byte_selector(signature)


class Baseline:
    """Int8Net deployed and loaded with one model on a BenchChain."""

    def __init__(self, bench: BenchChain, layers: list[Int8Layer]) -> None:
        self.bench = bench
        _, init_code = artifact()
        self.address, self.deploy_gas = bench.deploy(init_code)
        table, words = pack(layers)
        self.words = len(words)
        gas, _ = bench.transact(
            self.address, _selector(f"setLayers({LAYER_TYPE}[])") + encode([f"{LAYER_TYPE}[]"], [table])
        )
        self.upload_gas = gas
        for start in range(0, len(words), WORDS_PER_WRITE):
            chunk = words[start : start + WORDS_PER_WRITE]
            gas, _ = bench.transact(
                self.address,
                _selector("write(uint256,uint256[])") + encode(["uint256", "uint256[]"], [start, chunk]),
            )
            self.upload_gas += gas

    def forward(self, input_bytes: bytes) -> CallResult:
        """One inference as an eth_call; `output` is the decoded int8 output bytes."""
        result = self.bench.call(self.address, _selector("forward(bytes)") + encode(["bytes"], [input_bytes]))
        (output,) = decode(["bytes"], result.output)
        return CallResult(output, result.gas_used, result.seconds)


if __name__ == "__main__":
    write_artifact()

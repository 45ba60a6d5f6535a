"""The gas schedule of INFER and MODELINFO: every constant and the one formula (docs/gas.md).

    infer_gas     = G_INFER + memory_expansion + access(store) + 2 * slot_access
                    + n * chunk_access                                    (n = ceil(L / CHUNK_SIZE))
                    + [cold in the transaction] copy_gas(L) + decode_gas(L, n, ops) + sum of build_gas(op)
                    + compute_gas(model)
    modelinfo_gas = G_MODELINFO + access(store) + slot_access
    copy_gas(L)        = G_COPY_WORD * ceil(L / 32)
    decode_gas(L, n, ops) = ceil((G_DECODE_BASE_MILLIGAS + G_DECODE_CHUNK_MILLIGAS * n
                                  + G_DECODE_BYTE_MILLIGAS * L + G_DECODE_OP_MILLIGAS * ops) / 1000)
    build_gas(op)      = ceil((build(kind) + G_BUILD_CHANNEL_MICROGAS * channels(op)) / MICROGAS_PER_GAS)
    compute_gas(model) = ceil((sum over ops of (base + mac * macs + element * elements
                                                + weight_byte * weight_bytes)
                               + G_STREAM_BYTE_MICROGAS * max(0, total_weight_bytes - WEIGHT_CACHE_BYTES))
                              / MICROGAS_PER_GAS)

Every access term is EIP-2929's: an account (the store, each chunk) costs COLD_ACCOUNT_ACCESS_COST the
first time in the transaction and WARM_STORAGE_READ_COST after; a store slot costs COLD_SLOAD_COST, then
WARM_STORAGE_READ_COST, exactly as EXTCODECOPY and SLOAD would. "Cold in the transaction" means the model
was not decoded earlier in this transaction (`evm_ext.vm.warm_models`, journaled like EIP-2929's access
sets): only then are the chunks' code copied and the model decoded. `ops` is the op count the model's
header declares (charged before parsing); `build(kind)` is the op price's `build` term and `channels(op)`
the op's requantization channel count: each op's build is charged after its body is parsed and before it
is built (building prepares its kernels and their per-channel parameters). Nothing here depends on a
node's cache: the cold path is what is priced.

`memory_expansion` is py-evm's `extend_memory` (as for CALL). `weight_bytes` is the size of an op's GEMM
weight operand (4 or 8 bytes per weight, `OpCost`): streaming it is what bounds weight-heavy layers. Past
WEIGHT_CACHE_BYTES of weight operands in one model, the weights come from DRAM, which the stream term
pays for.

Sub-gas prices are in milligas or microgas so that they stay integers; each sum is rounded up once
(ceiling division), so every amount is exact integer arithmetic. Prices come from
`benchmarks/calibrate_gas.py`: INFER's gas/s within 0.8x-2.0x of ECRECOVER's on its sweep, cold and warm.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from eth.vm.forks.berlin.constants import COLD_ACCOUNT_ACCESS_COST, COLD_SLOAD_COST, WARM_STORAGE_READ_COST

from evm_ext.model import Model, OpCost

MILLIGAS_PER_GAS = 1_000
MICROGAS_PER_GAS = 1_000_000
G_INFER = 1_000
G_MODELINFO = 560
G_COPY_WORD = 3
G_DECODE_BASE_MILLIGAS = 4_000_000
G_DECODE_CHUNK_MILLIGAS = 1_000_000
G_DECODE_BYTE_MILLIGAS = 50
G_DECODE_OP_MILLIGAS = 500_000
G_BUILD_CHANNEL_MICROGAS = 100_000_000
WEIGHT_CACHE_BYTES = 8 << 20
G_STREAM_BYTE_MICROGAS = 1_000

__all__ = [
    "COLD_ACCOUNT_ACCESS_COST",
    "COLD_SLOAD_COST",
    "WARM_STORAGE_READ_COST",
    "G_INFER",
    "G_MODELINFO",
    "G_COPY_WORD",
    "G_DECODE_BASE_MILLIGAS",
    "G_DECODE_CHUNK_MILLIGAS",
    "G_DECODE_BYTE_MILLIGAS",
    "G_DECODE_OP_MILLIGAS",
    "G_BUILD_CHANNEL_MICROGAS",
    "WEIGHT_CACHE_BYTES",
    "G_STREAM_BYTE_MICROGAS",
    "MILLIGAS_PER_GAS",
    "MICROGAS_PER_GAS",
    "OpPrice",
    "OP_PRICES",
    "copy_gas",
    "decode_gas",
    "build_gas",
    "compute_gas",
    "model_compute_gas",
]


@dataclass(frozen=True)
class OpPrice:
    """Microgas of one op: `base` once, `mac` per multiply-accumulate, `element` per output element,
    `weight_byte` per byte of GEMM weight operand (`OpCost.weight_bytes`); `build` once per decode (cold)."""

    base: int
    mac: int
    element: int
    weight_byte: int = 0
    build: int = 0


OP_PRICES: dict[str, OpPrice] = {
    "add": OpPrice(base=271_000_000, mac=0, element=73_000, build=300_000_000),
    "argmax": OpPrice(base=82_000_000, mac=32_000, element=0, build=300_000_000),
    "avg_pool": OpPrice(base=303_000_000, mac=36_000, element=0, build=300_000_000),
    "concat": OpPrice(base=378_000_000, mac=0, element=46_000, build=300_000_000),
    "conv": OpPrice(base=389_000_000, mac=700, element=107_000, weight_byte=4_000, build=4_000_000_000),
    "conv_transpose": OpPrice(base=554_000_000, mac=2_080, element=0, weight_byte=2_250,
                                build=4_000_000_000),
    "fully_connected": OpPrice(base=186_000_000, mac=0, element=56_000, weight_byte=600,
                                 build=4_000_000_000),
    "lookup": OpPrice(base=77_000_000, mac=0, element=39_000, build=300_000_000),
    "max_pool": OpPrice(base=163_000_000, mac=17_000, element=0, build=300_000_000),
    "mul": OpPrice(base=232_000_000, mac=61_000, element=0, build=300_000_000),
    "reshape": OpPrice(base=31_000_000, mac=0, element=0, build=300_000_000),
    "softmax": OpPrice(base=296_000_000, mac=340_000, element=0, build=300_000_000),
    "transpose": OpPrice(base=40_000_000, mac=0, element=11_000, build=300_000_000),
}


def copy_gas(length: int) -> int:
    """Gas to copy a model of `length` bytes out of its chunks' code: G_COPY_WORD per (partial) word."""
    return G_COPY_WORD * -(-length // 32)


def build_gas(kind: str, channels: int) -> int:
    """Gas to build one op of `kind` with `channels` requantization channels, rounded up."""
    return -(-(OP_PRICES[kind].build + G_BUILD_CHANNEL_MICROGAS * channels) // MICROGAS_PER_GAS)


def decode_gas(length: int, chunks: int, ops: int) -> int:
    """Gas to read the code of `chunks` chunks and parse a model of `length` bytes declaring `ops` ops (the
    first INFER on the model in a transaction), rounded up once."""
    milligas = (G_DECODE_BASE_MILLIGAS + G_DECODE_CHUNK_MILLIGAS * chunks + G_DECODE_BYTE_MILLIGAS * length
                + G_DECODE_OP_MILLIGAS * ops)
    return -(-milligas // MILLIGAS_PER_GAS)


def compute_gas(op_costs: Iterable[OpCost]) -> int:
    """Gas to run a model from its `op_costs()`: microgas summed over the ops plus the stream term for
    weight operands past WEIGHT_CACHE_BYTES, rounded up once."""
    microgas = weight_bytes = 0
    for op in op_costs:
        price = OP_PRICES[op.kind]
        microgas += price.base + price.mac * op.macs + price.element * op.elements
        microgas += price.weight_byte * op.weight_bytes
        weight_bytes += op.weight_bytes
    microgas += G_STREAM_BYTE_MICROGAS * max(0, weight_bytes - WEIGHT_CACHE_BYTES)
    return -(-microgas // MICROGAS_PER_GAS)


@lru_cache(maxsize=256)
def model_compute_gas(model: Model) -> int:
    """`compute_gas(model.op_costs())`, memoized per model (a pure function of its bytes; listing the op
    costs of a 255-op model takes ~0.7 ms, more than running it)."""
    return compute_gas(model.op_costs())

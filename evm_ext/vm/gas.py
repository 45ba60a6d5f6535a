"""The gas schedule of INFER and MODELINFO: every constant and the one formula (docs/gas.md).

    infer_gas     = G_INFER + memory_expansion + access(store) + 2 * slot_access
                    + [cold in the transaction] n * chunk_access + copy_gas(L) + decode_gas(L, ops)
                                                + sum over ops of build_gas(kind)   (n = ceil(L / CHUNK_SIZE))
                    + compute_gas(model)
    modelinfo_gas = G_MODELINFO + access(store) + slot_access
    copy_gas(L)        = G_COPY_WORD * ceil(L / 32)
    decode_gas(L, ops) = ceil((G_DECODE_BASE_MILLIGAS + G_DECODE_BYTE_MILLIGAS * L
                               + G_DECODE_OP_MILLIGAS * ops) / MILLIGAS_PER_GAS)
    build_gas(kind)    = ceil(build[kind] / MICROGAS_PER_GAS)
    compute_gas(model) = ceil((sum over ops of (base + mac * macs + element * elements
                                                + weight_byte * weight_bytes)
                               + G_STREAM_BYTE_MICROGAS * max(0, total_weight_bytes - WEIGHT_CACHE_BYTES))
                              / MICROGAS_PER_GAS)

Every access term is EIP-2929's: an account (the store, each chunk) costs COLD_ACCOUNT_ACCESS_COST the
first time in the transaction and WARM_STORAGE_READ_COST after; a store slot costs COLD_SLOAD_COST, then
WARM_STORAGE_READ_COST, exactly as EXTCODECOPY and SLOAD would. "Cold in the transaction" means the model
was not decoded earlier in this transaction (`evm_ext.vm.warm_models`, journaled like EIP-2929's access
sets): only then are the chunk accounts read, their code copied and the model decoded; a model decoded
earlier in the transaction is used as it is, with no chunk access. `ops` is the op count the model's
header declares (charged before parsing); `build[kind]` is the op price's `build` term, charged for each
op after its body is parsed and before it is built. Nothing here depends on a node's cache: the cold
path is what is priced.

`memory_expansion` is py-evm's `extend_memory` (as for CALL). `weight_bytes` is the size of an op's int8
GEMM weights (one byte per weight, `OpCost`), which the compiled engine streams once per run: that is what
bounds weight-heavy layers. Past WEIGHT_CACHE_BYTES of weights in one model, the weights come from DRAM,
which the stream term pays for.

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
G_INFER = 700
G_MODELINFO = 4_900
G_COPY_WORD = 3
G_DECODE_BASE_MILLIGAS = 20_000_000
G_DECODE_BYTE_MILLIGAS = 50
G_DECODE_OP_MILLIGAS = 400_000
WEIGHT_CACHE_BYTES = 3 << 20
G_STREAM_BYTE_MICROGAS = 2_000

__all__ = [
    "COLD_ACCOUNT_ACCESS_COST",
    "COLD_SLOAD_COST",
    "WARM_STORAGE_READ_COST",
    "G_INFER",
    "G_MODELINFO",
    "G_COPY_WORD",
    "G_DECODE_BASE_MILLIGAS",
    "G_DECODE_BYTE_MILLIGAS",
    "G_DECODE_OP_MILLIGAS",
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
    "add": OpPrice(base=0, mac=0, element=59_000),
    "argmax": OpPrice(base=250_000, mac=20_000, element=0),
    "avg_pool": OpPrice(base=2_600_000, mac=0, element=0),
    "concat": OpPrice(base=0, mac=0, element=39_500),
    "conv": OpPrice(base=16_200_000, mac=340, element=34_000, build=800_000_000),
    "conv_transpose": OpPrice(base=32_600_000, mac=400, element=115_000, build=800_000_000),
    "fully_connected": OpPrice(base=60_000_000, mac=0, element=3_000, weight_byte=2_700,
                                 build=800_000_000),
    "lookup": OpPrice(base=300_000, mac=0, element=27_000),
    "max_pool": OpPrice(base=0, mac=700, element=0),
    "mul": OpPrice(base=410_000, mac=69_000, element=0),
    "reshape": OpPrice(base=2_500_000, mac=0, element=0),
    "softmax": OpPrice(base=1_800_000, mac=165_000, element=0),
    "transpose": OpPrice(base=800_000, mac=0, element=26_000),
}


def copy_gas(length: int) -> int:
    """Gas to copy a model of `length` bytes out of its chunks' code: G_COPY_WORD per (partial) word."""
    return G_COPY_WORD * -(-length // 32)


def build_gas(kind: str) -> int:
    """Gas to build (lower for the compiled engine) one op of `kind`, rounded up."""
    return -(-OP_PRICES[kind].build // MICROGAS_PER_GAS)


def decode_gas(length: int, ops: int) -> int:
    """Gas to decode a model of `length` bytes declaring `ops` ops (the first INFER on the model in a
    transaction: a fixed part for what a node that has not seen it does first, per byte, per op), rounded
    up once."""
    milligas = G_DECODE_BASE_MILLIGAS + G_DECODE_BYTE_MILLIGAS * length + G_DECODE_OP_MILLIGAS * ops
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

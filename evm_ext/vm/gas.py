"""The gas schedule of INFER and MODELINFO: every constant and the one formula (docs/gas.md).

    infer_gas     = G_INFER + memory_expansion + account_access + model_access_gas(L) + compute_gas(model)
    modelinfo_gas = G_MODELINFO + account_access
    model_access_gas(L) = ceil(G_MODEL_WORD_MILLIGAS * ceil(L / 32) / MILLIGAS_PER_GAS)
    compute_gas(model)  = ceil((sum over ops of (base + mac * macs + element * elements
                                                  + weight_byte * weight_bytes)
                                + G_STREAM_BYTE_MICROGAS * max(0, total_weight_bytes - WEIGHT_CACHE_BYTES))
                               / MICROGAS_PER_GAS)

`memory_expansion` is py-evm's `extend_memory` (as for CALL); `account_access` is EIP-2929's cold/warm
account cost. `weight_bytes` is the size of an op's int8 GEMM weights (one byte per weight, `OpCost`):
streaming them is what bounds weight-heavy layers. Past WEIGHT_CACHE_BYTES of weight operands
in one model (the last-level cache of the reference machine), the weights come from DRAM at about half
the speed, which the stream term pays for.

The per-word price is in milligas and per-op prices in microgas so that sub-gas prices stay integers;
each sum is rounded up once (ceiling division), so every amount is exact integer arithmetic. Prices come
from `benchmarks/calibrate_gas.py`: INFER's gas/s within 0.8x-2.0x of ECRECOVER's on its sweep.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from eth.vm.forks.berlin.constants import COLD_ACCOUNT_ACCESS_COST, WARM_STORAGE_READ_COST

from evm_ext.model import Model, OpCost

MILLIGAS_PER_GAS = 1_000
MICROGAS_PER_GAS = 1_000_000
G_INFER = 700
G_MODELINFO = 320
G_MODEL_WORD_MILLIGAS = 10
WEIGHT_CACHE_BYTES = 8 << 20
G_STREAM_BYTE_MICROGAS = 1_000

__all__ = [
    "COLD_ACCOUNT_ACCESS_COST",
    "WARM_STORAGE_READ_COST",
    "G_INFER",
    "G_MODELINFO",
    "G_MODEL_WORD_MILLIGAS",
    "WEIGHT_CACHE_BYTES",
    "G_STREAM_BYTE_MICROGAS",
    "MILLIGAS_PER_GAS",
    "MICROGAS_PER_GAS",
    "OpPrice",
    "OP_PRICES",
    "model_access_gas",
    "compute_gas",
    "model_compute_gas",
]


@dataclass(frozen=True)
class OpPrice:
    """Microgas of one op: `base` once, `mac` per multiply-accumulate, `element` per output element,
    `weight_byte` per byte of GEMM weight operand (`OpCost.weight_bytes`)."""

    base: int
    mac: int
    element: int
    weight_byte: int = 0


OP_PRICES: dict[str, OpPrice] = {
    "add": OpPrice(base=0, mac=0, element=59_000),
    "argmax": OpPrice(base=250_000, mac=20_000, element=0),
    "avg_pool": OpPrice(base=2_600_000, mac=0, element=0),
    "concat": OpPrice(base=0, mac=0, element=39_500),
    "conv": OpPrice(base=16_200_000, mac=900, element=34_000),
    "conv_transpose": OpPrice(base=32_600_000, mac=580, element=115_000),
    "fully_connected": OpPrice(base=20_000_000, mac=0, element=3_000, weight_byte=600),
    "lookup": OpPrice(base=300_000, mac=0, element=27_000),
    "max_pool": OpPrice(base=0, mac=700, element=0),
    "mul": OpPrice(base=410_000, mac=69_000, element=0),
    "reshape": OpPrice(base=2_500_000, mac=0, element=0),
    "softmax": OpPrice(base=1_800_000, mac=165_000, element=0),
    "transpose": OpPrice(base=800_000, mac=0, element=26_000),
}


def model_access_gas(length: int) -> int:
    """Gas to access a sealed model of `length` bytes: G_MODEL_WORD_MILLIGAS per (partial) 32-byte word."""
    return -(-G_MODEL_WORD_MILLIGAS * (-(-length // 32)) // MILLIGAS_PER_GAS)


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

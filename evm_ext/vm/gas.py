"""The gas schedule of INFER and MODELINFO: every constant and the one formula (docs/gas.md).

    infer_gas = G_INFER + memory_expansion + account_access + model_access_gas(L) + compute_gas(model)
    model_access_gas(L) = ceil(G_MODEL_WORD_MILLIGAS * ceil(L / 32) / MILLIGAS_PER_GAS)
    compute_gas(model) = ceil(sum over ops of (base + mac * macs + element * elements) / MICROGAS_PER_GAS)

`memory_expansion` is py-evm's `extend_memory` (as for CALL); `account_access` is EIP-2929's cold/warm
account cost. Every weight is one byte of the model and is read once per INFER, so the per-word term is
also the price of streaming the weights (what bounds weight-heavy layers; fully connected MACs, one per
weight, are priced by it alone).

The per-word price is in milligas and per-op prices in microgas so that sub-gas prices stay integers
(a float32 MAC of the engine costs ~1.5 milligas of time: milligas would be too coarse for it); each sum
is rounded up once (ceiling division), so every amount is exact integer arithmetic. Prices come from
`benchmarks/calibrate_gas.py` (INFER gas/s never below 0.8x of ECRECOVER's, the shipped models within
0.8x-2.0x; docs/gas.md lists the shapes above 2.0x).
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
G_MODELINFO = 400
G_MODEL_WORD_MILLIGAS = 760

__all__ = [
    "COLD_ACCOUNT_ACCESS_COST",
    "WARM_STORAGE_READ_COST",
    "G_INFER",
    "G_MODELINFO",
    "G_MODEL_WORD_MILLIGAS",
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
    """Microgas of one op: `base` once, `mac` per multiply-accumulate, `element` per output element."""

    base: int
    mac: int
    element: int


OP_PRICES: dict[str, OpPrice] = {
    "add": OpPrice(base=200_000_000, mac=0, element=53_000),
    "argmax": OpPrice(base=61_000_000, mac=25_000, element=0),
    "avg_pool": OpPrice(base=240_000_000, mac=26_000, element=0),
    "concat": OpPrice(base=270_000_000, mac=0, element=35_000),
    "conv": OpPrice(base=300_000_000, mac=1_400, element=110_000),
    "conv_transpose": OpPrice(base=400_000_000, mac=2_000, element=30_000),
    "fully_connected": OpPrice(base=170_000_000, mac=0, element=59_000),
    "lookup": OpPrice(base=57_000_000, mac=0, element=29_000),
    "max_pool": OpPrice(base=150_000_000, mac=17_000, element=0),
    "mul": OpPrice(base=180_000_000, mac=47_000, element=0),
    "reshape": OpPrice(base=23_000_000, mac=0, element=1_000),
    "softmax": OpPrice(base=230_000_000, mac=250_000, element=0),
    "transpose": OpPrice(base=30_000_000, mac=0, element=9_000),
}


def model_access_gas(length: int) -> int:
    """Gas to access a sealed model of `length` bytes: G_MODEL_WORD_MILLIGAS per (partial) 32-byte word."""
    return -(-G_MODEL_WORD_MILLIGAS * (-(-length // 32)) // MILLIGAS_PER_GAS)


def compute_gas(op_costs: Iterable[OpCost]) -> int:
    """Gas to run a model from its `op_costs()` (kind, macs, elements): microgas summed, rounded up once."""
    microgas = 0
    for op in op_costs:
        price = OP_PRICES[op.kind]
        microgas += price.base + price.mac * op.macs + price.element * op.elements
    return -(-microgas // MICROGAS_PER_GAS)


@lru_cache(maxsize=256)
def model_compute_gas(model: Model) -> int:
    """`compute_gas(model.op_costs())`, memoized per model (a pure function of its bytes; listing the op
    costs of a 255-op model takes ~0.7 ms, more than running it)."""
    return compute_gas(model.op_costs())

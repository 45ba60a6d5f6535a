"""The gas schedule of INFER and MODELINFO: every constant and the one formula (docs/gas.md).

    infer_gas = G_INFER + memory_expansion + account_access + model_access_gas(L) + compute_gas(model)
    model_access_gas(L) = ceil(G_MODEL_WORD_MILLIGAS * ceil(L / 32) / MILLIGAS_PER_GAS)
    compute_gas(model) = ceil(sum over ops of (base + mac * macs + element * elements) / MILLIGAS_PER_GAS)

`memory_expansion` is py-evm's `extend_memory` (as for CALL); `account_access` is EIP-2929's cold/warm
account cost. Per-word and per-op prices are in milligas so that sub-gas prices stay integers; each sum is
rounded up once (ceiling division), so every amount is exact integer arithmetic. Prices come from
`benchmarks/calibrate_gas.py` (INFER gas/s within 0.8x-2.0x of ECRECOVER's).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from eth.vm.forks.berlin.constants import COLD_ACCOUNT_ACCESS_COST, WARM_STORAGE_READ_COST

MILLIGAS_PER_GAS = 1_000
G_INFER = 1_000
G_MODELINFO = 800
G_MODEL_WORD_MILLIGAS = 50

__all__ = [
    "COLD_ACCOUNT_ACCESS_COST",
    "WARM_STORAGE_READ_COST",
    "G_INFER",
    "G_MODELINFO",
    "G_MODEL_WORD_MILLIGAS",
    "MILLIGAS_PER_GAS",
    "OpPrice",
    "OP_PRICES",
    "model_access_gas",
    "compute_gas",
]


@dataclass(frozen=True)
class OpPrice:
    """Milligas of one op: `base` once, `mac` per multiply-accumulate, `element` per output element."""

    base: int
    mac: int
    element: int


OP_PRICES: dict[str, OpPrice] = {
    "add": OpPrice(base=160_000, mac=0, element=52),
    "argmax": OpPrice(base=79_000, mac=21, element=0),
    "avg_pool": OpPrice(base=250_000, mac=171, element=0),
    "concat": OpPrice(base=220_000, mac=0, element=39),
    "conv": OpPrice(base=650_000, mac=2, element=327),
    "conv_transpose": OpPrice(base=470_000, mac=3, element=69),
    "fully_connected": OpPrice(base=150_000, mac=3, element=53),
    "lookup": OpPrice(base=76_000, mac=0, element=33),
    "max_pool": OpPrice(base=160_000, mac=149, element=0),
    "mul": OpPrice(base=150_000, mac=41, element=0),
    "reshape": OpPrice(base=56_000, mac=0, element=0),
    "softmax": OpPrice(base=180_000, mac=216, element=0),
    "transpose": OpPrice(base=60_000, mac=0, element=9),
}


def model_access_gas(length: int) -> int:
    """Gas to access a sealed model of `length` bytes: G_MODEL_WORD_MILLIGAS per (partial) 32-byte word."""
    return -(-G_MODEL_WORD_MILLIGAS * (-(-length // 32)) // MILLIGAS_PER_GAS)


def compute_gas(op_costs: Iterable) -> int:
    """Gas to run a model from its `op_costs()` (kind, macs, elements): milligas summed, rounded up once."""
    milligas = 0
    for op in op_costs:
        price = OP_PRICES[op.kind]
        milligas += price.base + price.mac * op.macs + price.element * op.elements
    return -(-milligas // MILLIGAS_PER_GAS)

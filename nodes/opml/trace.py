"""Every intermediate tensor of one inference, as the commitment needs them (and a tampered variant).

`trace(model, x)` runs the ops one at a time (no conv + max-pool fusion, which would skip the conv's
output); each op's output is bit-identical to the engine's `Model.run_bytes` (the fusion is proven
bit-identical, and tests/test_opml_kernels.py checks the final output on the shipped models).
"""

from __future__ import annotations

import numpy as np

from evm_ext.model import Model
from evm_ext.model.errors import ModelInputError


def trace(model: Model, x: bytes, tamper_op: int | None = None) -> list[bytes]:
    """Values 0..n (input, then each op's output) as bytes for one sample.

    `tamper_op` K (1-based, as `aievm model inspect` numbers ops): op K's output gets its first byte
    changed, and every later op runs on the changed values (a dishonest submitter's consistent trace).
    """
    if len(x) != model.input_size:
        raise ModelInputError(f"input has {len(x)} bytes, the model takes {model.input_size}")
    if tamper_op is not None and not 1 <= tamper_op <= len(model.ops):
        raise ModelInputError(f"--tamper-op {tamper_op}: the model has ops 1..{len(model.ops)}")
    values = [np.frombuffer(x, dtype=np.int8).reshape((1, *model.input_shape))]
    for k, op in enumerate(model.ops, start=1):
        y = op.run([values[i] for i in op.inputs])
        if k == tamper_op:
            y = y.copy()
            y.reshape(-1)[0] = np.int8(int(y.reshape(-1)[0]) ^ 0x55)
        values.append(y)
    return [v.tobytes() for v in values]

"""Golden vectors: pinned model hashes and output sha256s; bit-identical results across thread counts."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from eth_utils import keccak

from tests.engine_models import synthetic_inputs, synthetic_model

ROOT = Path(__file__).resolve().parents[1]

GOLDEN = {
    "softmax": (
        "5ba9841a1610d4c1f7c5209213eca3b7374765b4c9923833d31f07b1616e47cd",
        "46f55ad88be9d50f6c86487d7596a84bb077111a9c9b3a8abe3eb15f2edc70aa",
        "969d97989a989d959d9d",
    ),
    "argmax": (
        "891198b61c97417c29ad3f9679f48d1a82f76f1a732b5415233063896cbaaa3c",
        "11f8d69183520c4af53d03be2306de4fefccfa68ae4872a72e4ffef0c4277a2c",
        "01",
    ),
}


@pytest.mark.parametrize("head", sorted(GOLDEN))
def test_golden_vectors(head):
    model_hash, outputs_sha256, first = GOLDEN[head]
    model = synthetic_model(head=head)
    assert keccak(model.encode()).hex() == model_hash  # pins the bytes
    x = synthetic_inputs(64)
    y = model.run(x)
    assert hashlib.sha256(y.tobytes()).hexdigest() == outputs_sha256
    assert model.run_bytes(x[0].tobytes()).hex() == first  # INFER semantics == batch row


def test_batch_rows_equal_single_samples():
    model = synthetic_model()
    x = synthetic_inputs(8, seed=5)
    y = model.run(x)
    assert all(model.run_bytes(x[i].tobytes()) == y[i].tobytes() for i in range(8))


# Runs the op kernels directly: Model.run itself pins large runs to one BLAS thread.
_SCRIPT = """
import hashlib
from threadpoolctl import threadpool_info
from tests.engine_models import synthetic_inputs, synthetic_model
m = synthetic_model()
values = [synthetic_inputs(256, seed=9)]
for op in m.ops:
    values.append(op.run([values[i] for i in op.inputs]))
print(hashlib.sha256(values[-1].tobytes()).hexdigest())
print(max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"))
"""


def test_identical_with_1_and_2_blas_threads():
    outs = []
    for threads in ("1", "2"):
        env = dict(os.environ, OPENBLAS_NUM_THREADS=threads, OMP_NUM_THREADS=threads)
        proc = subprocess.run(
            [sys.executable, "-c", _SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, check=True
        )
        digest, used = proc.stdout.split()
        assert used == threads
        outs.append(digest)
    assert outs[0] == outs[1]
    model = synthetic_model()
    assert hashlib.sha256(model.run(synthetic_inputs(256, seed=9)).tobytes()).hexdigest() == outs[0]

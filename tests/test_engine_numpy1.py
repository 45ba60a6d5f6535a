"""The engine under a second numpy major version (numpy 1.26 beside the pinned 2.x): the same bits.

numpy 1.26.4 (pinned here: it cannot share the project's environment with numpy 2) is installed by pip
from PyPI into `.cache/numpy1` (once per machine), put in front of the venv's numpy on PYTHONPATH, and
both engines run in a subprocess: the golden vectors and the shipped models' outputs must hash to what
numpy 2 gives in this process. The subprocess compiles the kernels into its own numba cache (numba's
cache is not shared across numpy versions).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from evm_ext.model import load_model
from tests.engine_models import synthetic_inputs, synthetic_model
from tests.test_engine_golden import GOLDEN

ROOT = Path(__file__).resolve().parents[1]
NUMPY_1 = "numpy==1.26.4"
TARGET = ROOT / ".cache" / "numpy1"
SHIPPED = [
    "models/mnist_mlp/mnist_mlp.aiem",
    "models/mnist_cnn/mnist_cnn.aiem",
    "models/dcgan/dcgan_generator.aiem",
]

_SCRIPT = """
import hashlib, json, sys
import numpy as np
from evm_ext.model import load_model
from evm_ext.model.runtime import engine
from tests.engine_models import synthetic_inputs, synthetic_model
out = {"numpy": np.__version__, "engine": engine(), "golden": {}, "shipped": {}}
for head in ("softmax", "argmax"):
    y = synthetic_model(head=head).run(synthetic_inputs(64))
    out["golden"][head] = hashlib.sha256(y.tobytes()).hexdigest()
for path in sys.argv[1:]:
    model = load_model(path)
    x = np.random.default_rng(3).integers(-128, 128, size=(8, *model.input_shape)).astype(np.int8)
    out["shipped"][path] = hashlib.sha256(model.run(x).tobytes()).hexdigest()
print(json.dumps(out))
"""


def _numpy1() -> Path:
    if not (TARGET / "numpy" / "__init__.py").exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
             "--target", str(TARGET), NUMPY_1],
            check=True,
        )
    return TARGET


def _shipped_hashes() -> dict[str, str]:
    hashes = {}
    for path in SHIPPED:
        model = load_model(ROOT / path)
        x = np.random.default_rng(3).integers(-128, 128, size=(8, *model.input_shape)).astype(np.int8)
        hashes[path] = hashlib.sha256(model.run(x).tobytes()).hexdigest()
    return hashes


def test_both_engines_under_numpy_1_give_the_golden_and_shipped_hashes():
    target = _numpy1()
    expected = _shipped_hashes()
    golden = hashlib.sha256(synthetic_model().run(synthetic_inputs(64)).tobytes()).hexdigest()
    assert golden == GOLDEN["softmax"][1]
    for name in ("compiled", "numpy"):
        env = dict(
            os.environ,
            PYTHONPATH=os.pathsep.join([str(target), str(ROOT)]),
            AIEVM_ENGINE=name,
            NUMBA_CACHE_DIR=str(target / "numba-cache"),
        )
        proc = subprocess.run(
            [sys.executable, "-c", _SCRIPT, *SHIPPED], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        out = json.loads(proc.stdout)
        assert out["numpy"] == "1.26.4" and out["engine"] == name
        assert out["golden"] == {head: GOLDEN[head][1] for head in ("softmax", "argmax")}
        assert out["shipped"] == expected

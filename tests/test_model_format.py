"""The canonical format and its strict decoder: round trips, targeted defects, limits, and a fuzz run."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from evm_ext.model import Limits, ModelFormatError, decode_model, load_model
from evm_ext.model.format import MAGIC
from evm_ext.model.identity import model_id
from tests.engine_models import synthetic_model

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def raw() -> bytes:
    return synthetic_model().encode()


def test_canonical_round_trip(raw):
    model = decode_model(raw)
    assert model.encode() == raw
    assert decode_model(model.encode()) == model
    assert model.id == synthetic_model().id == model_id(model.encode()) and len(model.id) == 32
    assert model.input_size == 192 and model.output_size == 10
    assert [op.kind.name.lower() for op in model.ops] == [
        "conv",
        "conv",
        "conv_transpose",
        "lookup",
        "conv",
        "add",
        "mul",
        "max_pool",
        "avg_pool",
        "concat",
        "transpose",
        "reshape",
        "fully_connected",
        "softmax",
    ]
    assert model.op_costs()[0].macs == 6 * 8 * 8 * 27 and model.op_costs()[0].elements == 384


def test_header_layout(raw):
    assert raw[:4] == MAGIC and raw[4] == 1 and raw[5] == 3
    assert struct.unpack_from("<3I", raw, 6) == (3, 8, 8)


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda b: b + b"\x00", "1 trailing bytes"),
        (lambda b: b[:-1], "truncated"),
        (lambda b: b"AIEN" + b[4:], "bad magic"),
        (lambda b: b[:4] + b"\x02" + b[5:], "unsupported format version 2"),
        (lambda b: b[:6] + struct.pack("<I", 0) + b[10:], "dims"),
        (lambda b: b[:6] + struct.pack("<I", 0xFFFFFFFF) + b[10:], "dims"),
        (lambda b: b[:18] + struct.pack("<d", float("nan")) + b[26:], "input scale must be finite and > 0"),
        (lambda b: b[:18] + struct.pack("<d", -0.0) + b[26:], "input scale must be finite and > 0"),
        (lambda b: b[:27] + struct.pack("<H", 0) + b[29:], "op count 0"),
        (lambda b: b[:29] + b"\x63" + b[30:], "unknown op kind 99"),
        (lambda b: b[:30] + b"\x02" + b[31:], "2 inputs"),
        (lambda b: b[:31] + struct.pack("<H", 1) + b[33:], "later value"),
    ],
)
def test_defects_rejected_with_offset(raw, mutate, message):
    with pytest.raises(ModelFormatError, match=message) as err:
        decode_model(mutate(raw))
    assert "byte offset" in str(err.value)


def test_non_canonical_fields_rejected():
    model = synthetic_model()
    raw = bytearray(model.encode())
    # the avg_pool count_include_pad flag is the byte before the concat op; 2 is not a canonical boolean
    avg = model.ops[8]
    body_end = _op_end(model, 8)
    assert raw[body_end - 1] == int(avg.count_include_pad)
    raw[body_end - 1] = 2
    with pytest.raises(ModelFormatError, match="count_include_pad must be 0 or 1"):
        decode_model(bytes(raw))


def _op_end(model, index: int) -> int:
    """Byte offset just after op `index` (re-encoding a prefix of the graph)."""
    from evm_ext.model.format import encode_graph

    head = encode_graph(model.source, list(model.ops[: index + 1]))
    return len(head)


def test_limits_checked_before_allocation(raw):
    with pytest.raises(ModelFormatError, match="op count 14 not in"):
        decode_model(raw, Limits(max_ops=4))
    with pytest.raises(ModelFormatError, match="MACs per sample"):
        decode_model(raw, Limits(max_macs=10_000))
    with pytest.raises(ModelFormatError, match="parameters"):
        decode_model(raw, Limits(max_params=100))
    with pytest.raises(ModelFormatError, match="elements"):
        decode_model(raw, Limits(max_elements=100))
    # a fully connected layer claiming 2**18 outputs needs 2**18 * 128 weight bytes: truncated, not allocated
    model = synthetic_model()
    at = _op_end(model, 11) + 4  # op 12 header: kind, count, one u16 input index
    bad = bytearray(raw)
    bad[at : at + 4] = struct.pack("<I", 1 << 18)
    with pytest.raises(ModelFormatError, match="truncated weights"):
        decode_model(bytes(bad))


def test_load_model_missing_file(tmp_path):
    with pytest.raises(ModelFormatError, match="cannot read model file"):
        load_model(tmp_path / "nope.aiem")


_FUZZ = r"""
import json, resource, sys
import numpy as np
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
from evm_ext.errors import AievmError
from evm_ext.model import ModelFormatError, decode_model

rng = np.random.default_rng(2024)
stats = {"rejected": 0, "decoded": 0, "failures": []}
for path in sys.argv[1:]:
    original = open(path, "rb").read()
    for i in range(700):
        data = bytearray(original)
        kind = i % 4
        if kind == 0:
            data = data[: int(rng.integers(0, len(data)))]
        elif kind == 1:
            for _ in range(int(rng.integers(1, 4))):
                bit = int(rng.integers(0, 8 * len(data)))
                data[bit // 8] ^= 1 << (bit % 8)
        elif kind == 2:
            at = int(rng.integers(0, min(len(data) - 4, 400)))
            value = int(rng.choice([0xFFFFFFFF, 1 << 31, 1 << 16, 65537, int(rng.integers(0, 1 << 32))]))
            data[at:at + 4] = value.to_bytes(4, "little")
        else:
            at = int(rng.integers(0, min(len(data) - 2, 400)))
            data[at:at + 2] = int(rng.choice([0, 0xFFFF, 256])).to_bytes(2, "little")
        data = bytes(data)
        try:
            model = decode_model(data)
        except ModelFormatError:
            stats["rejected"] += 1
            continue
        except BaseException as exc:
            stats["failures"].append(f"{path}#{i}: decode {type(exc).__name__}: {exc}"[:300])
            continue
        try:
            assert model.encode() == data, "decoded model re-encodes differently"
            out = model.run_bytes(bytes(model.input_size))
            assert len(out) == model.output_size
            stats["decoded"] += 1
        except AievmError:
            stats["rejected"] += 1
        except BaseException as exc:
            stats["failures"].append(f"{path}#{i}: run {type(exc).__name__}: {exc}"[:300])
stats["maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps(stats))
"""


_WARM_UP = "\n".join([
    "from evm_ext.model import load_model",
    "load_model('models/mnist_mlp/mnist_mlp.aiem').run_bytes(bytes(784))",
])


def test_fuzzed_model_files_never_crash(tmp_path):
    """700 mutations of each of: the committed MNIST MLP and CNN files and two synthetic all-op models."""
    paths = [ROOT / "models/mnist_mlp/mnist_mlp.aiem", ROOT / "models/mnist_cnn/mnist_cnn.aiem"]
    for name, model in (("synthetic", synthetic_model()), ("argmax", synthetic_model(3, "argmax"))):
        paths.append(tmp_path / f"{name}.aiem")
        paths[-1].write_bytes(model.encode())
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    # the engine's kernels compiled (and cached on disk) in a process of their own first: the peak RSS
    # asserted below is the fuzzing's, not LLVM's compiling the kernels after an edit of their source
    subprocess.run([sys.executable, "-c", _WARM_UP], cwd=ROOT, env=env, check=True, timeout=600)
    proc = subprocess.run(
        [sys.executable, "-c", _FUZZ, *map(str, paths)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    stats = json.loads(proc.stdout)
    assert stats["failures"] == []
    assert stats["rejected"] + stats["decoded"] == 2800
    assert stats["rejected"] >= 500 and stats["decoded"] >= 50
    assert stats["maxrss_kb"] < 1 << 20  # < 1 GiB peak


def test_run_rejects_wrong_input():
    model = synthetic_model()
    from evm_ext.model import ModelInputError

    with pytest.raises(ModelInputError, match="input has 3 bytes"):
        model.run_bytes(b"abc")
    with pytest.raises(ModelInputError, match="expected int8 input"):
        model.run(np.zeros((1, 3, 8, 8), np.float32))


def test_huge_padding_is_a_workspace_limit_not_an_allocation():
    """A 1x1 max_pool output from a 2**17-wide padded window: the padded input would need 17 GB."""
    from evm_ext.model.ops import MaxPool, Value
    from evm_ext.model.runtime import Model
    from evm_ext.tensor.conv import Geometry

    src = Value((1, 1, 1), 1.0, 0)
    op = MaxPool((0,), [src], geometry=Geometry((65535, 65535), (65535, 65535), (1, 1), (65534,) * 4))
    assert op.out.shape == (1, 1, 1)
    with pytest.raises(ModelFormatError, match="workspace"):
        decode_model(Model(src, [op]).encode())


def test_total_value_elements_limited(raw):
    with pytest.raises(ModelFormatError, match="values exceed 2000 elements"):
        decode_model(raw, Limits(max_total_elements=2000))

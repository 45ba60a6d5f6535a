"""`aievm model convert / inspect / run / encode / decode` through the real entry point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from evm_ext.cli import main
from evm_ext.model import load_model

ROOT = Path(__file__).resolve().parents[1]
MLP = ROOT / "models/mnist_mlp"


@pytest.fixture(scope="module")
def aiem(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "mlp.aiem"
    assert (
        main(
            [
                "model",
                "convert",
                str(MLP / "mnist_mlp.onnx"),
                "-o",
                str(out),
                "--calib",
                str(MLP / "calibration.npy"),
            ]
        )
        == 0
    )
    return out


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "x.npy"
    np.save(path, np.load(MLP / "calibration.npy")[:3])
    return path


def test_convert_writes_a_decodable_model(aiem):
    model = load_model(aiem)
    assert model.input_size == 784 and model.output_size == 10


def test_inspect(aiem, capsys):
    assert main(["model", "inspect", str(aiem)]) == 0
    out = capsys.readouterr().out
    model = load_model(aiem)
    assert f"model id 0x{model.id.hex()}" in out and "50,890" in out and "50,816" in out


def test_run_encode_decode_agree(aiem, inputs, tmp_path, capsys):
    model = load_model(aiem)
    x = np.load(inputs)
    y_path = tmp_path / "y.npy"
    assert main(["model", "run", str(aiem), "--input", str(inputs), "--output", str(y_path)]) == 0
    lines = capsys.readouterr().out.split()
    raws = [w for w in lines if w.startswith("0x")]
    y_q = model.run(model.quantize_input(x))
    assert raws == [f"0x{row.tobytes().hex()}" for row in y_q]
    assert np.array_equal(np.load(y_path), model.dequantize_output(y_q))

    assert main(["model", "encode", str(aiem), "--input", str(inputs)]) == 0
    encoded = capsys.readouterr().out.split()
    assert encoded == [f"0x{model.encode_input(s).hex()}" for s in x]
    assert all(model.run_bytes(bytes.fromhex(e[2:])) == y_q[i].tobytes() for i, e in enumerate(encoded))

    assert main(["model", "decode", str(aiem), raws[0]]) == 0
    printed = np.array(capsys.readouterr().out.strip(" []\n").split(), dtype=float)
    np.testing.assert_allclose(printed, model.decode_output(bytes.fromhex(raws[0][2:])), atol=1e-5)


def test_errors_are_one_line(aiem, tmp_path, capsys):
    assert main(["model", "decode", str(aiem), "0x00"]) == 2
    assert "output has 1 bytes, the model produces 10" in capsys.readouterr().err
    bad = tmp_path / "bad.aiem"
    bad.write_bytes(aiem.read_bytes()[:-3])
    assert main(["model", "inspect", str(bad)]) == 2
    assert "truncated" in capsys.readouterr().err


def test_help_has_examples():
    out = subprocess.run(
        [sys.executable, "-m", "evm_ext.cli", "model", "convert", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "aievm model convert models/mnist_cnn/mnist_cnn.onnx" in out


def test_run_one_sample(aiem, tmp_path, capsys):
    sample = np.load(MLP / "calibration.npy")[5]
    path = tmp_path / "one.npy"
    np.save(path, sample)
    assert main(["model", "run", str(aiem), "--input", str(path)]) == 0
    raws = [w for w in capsys.readouterr().out.split() if w.startswith("0x")]
    model = load_model(aiem)
    assert raws == [f"0x{model.run_bytes(model.encode_input(sample)).hex()}"]


def test_model_package_does_not_import_the_node_and_deploy_is_still_registered():
    code = (
        "import sys, argparse\n"
        "import evm_ext.model.cli, evm_ext.model.convert, evm_ext.model.convert.report\n"
        "assert not any(m == 'nodes' or m.startswith('nodes.') for m in sys.modules), 'model imports nodes'\n"
        "from evm_ext.cli import build_parser\n"
        "model = build_parser()._subparsers._group_actions[0].choices['model']\n"
        "subs = next(a for a in model._actions if isinstance(a, argparse._SubParsersAction))\n"
        "print(sorted(subs.choices))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "['convert', 'decode', 'deploy', 'encode', 'inspect', 'run']"


def test_convert_help_documents_batch_and_report():
    out = subprocess.run(
        [sys.executable, "-m", "evm_ext.cli", "model", "convert", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--report" in out and "symbolic or fixed (1 or N)" in out

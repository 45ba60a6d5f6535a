"""docs/quickstart.md's step-by-step examples, run as a user would copy-paste them.

A real `aievm node` subprocess, the real `aievm model deploy` and `aievm compile` commands, and the
quickstart's Python snippet executed verbatim (only the node URL and the ModelStore address filled in).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.node_fixtures import node_process

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = (ROOT / "docs" / "quickstart.md").read_text()


def _block(language: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", QUICKSTART, re.S)
    assert len(blocks) == 1, f"expected one {language} block in docs/quickstart.md"
    return blocks[0]


def _aievm(*args: str, cwd: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "evm_ext.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_quickstart_steps_run_as_written(tmp_path: Path) -> None:
    (tmp_path / "models").symlink_to(ROOT / "models")
    with node_process(None) as (_, url):
        deployed = _aievm(
            "model", "deploy", "models/mnist_mlp/mnist_mlp.aiem", "--rpc", url, "--no-progress", cwd=tmp_path
        )
        store_address = deployed.strip().splitlines()[-1]
        assert re.fullmatch(r"0x[0-9a-fA-F]{40}", store_address)

        (tmp_path / "AIContract.sol").write_text(_block("solidity"))
        _aievm("compile", "AIContract.sol", "-o", "build", cwd=tmp_path)
        assert (tmp_path / "build" / "AIContract.json").is_file()

        snippet = _block("python").replace("http://127.0.0.1:8545", url)
        snippet = snippet.replace("MODEL_STORE_ADDRESS", repr(store_address))
        script = tmp_path / "quickstart.py"
        script.write_text(snippet)
        result = subprocess.run(
            [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "5"

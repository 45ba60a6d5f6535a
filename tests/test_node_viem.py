"""The devnet driven by a viem test client (node_modules/viem) over real HTTP: tests/js/viem_devnet.mjs
runs mine, setNextBlockTimestamp, impersonateAccount, watchContractEvent and getLogs."""

from __future__ import annotations

import json
import subprocess

from nodes.chain import open_chain
from nodes.runner import BackgroundNode
from tests.node_fixtures import ROOT, counter_artifact

SCRIPT = ROOT / "tests" / "js" / "viem_devnet.mjs"


def test_viem_test_client(tmp_path):
    art = counter_artifact()
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"counter": {"abi": art["abi"], "bytecode": art["bytecode"]}}))
    with BackgroundNode(open_chain(None)) as node:
        result = subprocess.run(
            ["node", str(SCRIPT), node.url, str(spec)], cwd=ROOT, capture_output=True, text=True, timeout=300
        )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out == {
        "mined": 3,
        "timestampSet": True,
        "impersonatedFrom": True,
        "watched": out["watched"],
        "logs": out["logs"],
        "logsExpected": True,
    }
    assert out["watched"][-1] == 5 and set(out["watched"][:-1]) == {2}
    assert out["logs"][-1] == 5 and set(out["logs"][:-1]) == {2}
    assert out["watched"] == out["logs"][-len(out["watched"]) :]  # each log once, in order

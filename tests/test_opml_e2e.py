"""`aievm opml` end to end over JSON-RPC: one aievm node, the commands as a user runs them.

The watcher (`aievm opml challenger`) runs as a subprocess for the whole module; each case runs
`aievm opml submit ... --defend` as a subprocess while the test mines empty blocks (evm_mine) so that
windows and deadlines pass, then checks `aievm opml status` and the payments of the game contract.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from evm_ext.model import load_model
from nodes.accounts import dev_accounts
from nodes.chain import open_chain
from nodes.deploy import deploy_model
from nodes.opml.client import Game, GameParams, Party, deploy_game
from nodes.opml.demo import mine
from nodes.runner import BackgroundNode

ROOT = Path(__file__).resolve().parent.parent
PARAMS = GameParams(window_blocks=6, move_blocks=4, submit_bond=10**18, challenge_bond=3 * 10**17)
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


class Proc:
    """A subprocess whose output lines are collected by a thread."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "evm_ext.cli", "opml", *args],
            cwd=ROOT,
            env=ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        threading.Thread(target=lambda: self.lines.extend(self.proc.stdout), daemon=True).start()

    def wait_for(self, text: str, rpc: str | None = None, timeout: float = 120) -> None:
        """Until `text` appears in the output (mining a block per poll if `rpc` is given)."""
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            assert self.proc.poll() is None or any(text in line for line in self.lines), self.output
            assert time.monotonic() < deadline, f"no {text!r} in:\n{self.output}"
            if rpc:
                mine(rpc)
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)

    @property
    def output(self) -> str:
        return "".join(self.lines)


@pytest.fixture(scope="module")
def devnet() -> Iterator[dict]:
    with BackgroundNode(open_chain(None)) as node:
        party = Party(node.url)
        game = deploy_game(party, PARAMS)
        models = {}
        for name, path in (("mlp", "mnist_mlp/mnist_mlp.aiem"), ("cnn", "mnist_cnn/mnist_cnn.aiem")):
            model = load_model(ROOT / "models" / path)
            models[name] = (model, deploy_model(model.encode(), node.url, progress=False).address)
        watcher = Proc("challenger", "--rpc", node.url, "--game", game, "--poll", "0.05")
        watcher.wait_for("watching game")
        try:
            yield {"url": node.url, "game": game, "models": models, "watcher": watcher}
        finally:
            watcher.stop()


def _input(tmp_path: Path, model, index: int) -> Path:
    images = np.load(ROOT / "models/data/mnist_test_images.npy")
    path = tmp_path / f"digit{index}.npy"
    np.save(path, (images[index].astype(np.float64) / 255).reshape(model.input_shape))
    return path


def _cli(devnet: dict, command: str, sid: int, check: bool = True) -> subprocess.CompletedProcess:
    """`aievm opml COMMAND --rpc ... --game ... SID` in a subprocess, as a user runs it."""
    argv = [sys.executable, "-m", "evm_ext.cli", "opml", command, "--rpc", devnet["url"],
            "--game", devnet["game"], str(sid)]
    return subprocess.run(argv, cwd=ROOT, env=ENV, capture_output=True, text=True, check=check)


def _status(devnet: dict, sid: int) -> str:
    return _cli(devnet, "status", sid).stdout.strip()


def _submit(devnet: dict, tmp_path: Path, name: str, index: int, *extra: str) -> tuple[int, Proc]:
    model, address = devnet["models"][name]
    proc = Proc(
        "submit",
        "--rpc",
        devnet["url"],
        "--game",
        devnet["game"],
        address,
        "--input",
        str(_input(tmp_path, model, index)),
        "--defend",
        *extra,
    )
    proc.wait_for("submission id")
    sid = int(next(line for line in proc.lines if "submission id" in line).split()[2].rstrip(";"))
    return sid, proc


def _paid(devnet: dict, sid_block: int) -> list[tuple[str, int]]:
    game = Game(Party(devnet["url"]), devnet["game"])
    return [(e["to"], e["amount"]) for e in game.events("Paid", sid_block, game.block())]


def test_honest_submission_is_not_challenged_and_finalizes(devnet, tmp_path):
    start = Game(Party(devnet["url"]), devnet["game"]).block() + 1
    sid, proc = _submit(devnet, tmp_path, "mlp", 0)
    assert _status(devnet, sid).startswith("pending (the window closes at block")
    early = _cli(devnet, "finalize", sid, check=False)
    assert early.returncode == 2 and "finalize() would revert: TooEarly(deadline=" in early.stderr
    proc.wait_for(f"submission {sid}: finalized", rpc=devnet["url"])
    proc.proc.wait(timeout=30)
    assert _status(devnet, sid) == "finalized"
    devnet["watcher"].wait_for(f"submission {sid}: re-ran the model: root matches")
    assert f"submission {sid}: challenged" not in devnet["watcher"].output
    assert _paid(devnet, start) == [(dev_accounts()[0].address, PARAMS.submit_bond)]


@pytest.mark.parametrize(("name", "op"), [("mlp", 1), ("cnn", 3)])
def test_tampered_submission_is_challenged_and_slashed(devnet, tmp_path, name, op):
    start = Game(Party(devnet["url"]), devnet["game"]).block() + 1
    sid, proc = _submit(devnet, tmp_path, name, 1, "--tamper-op", str(op))
    proc.wait_for(f"submission {sid}: submitter slashed", timeout=120)
    assert _status(devnet, sid) == "submitter slashed"
    watcher = devnet["watcher"]
    watcher.wait_for(f"submission {sid}: re-ran the model: root DIFFERS")
    watcher.wait_for(f"disputes op {op} (the first output root that differs)")
    challenger = dev_accounts()[1].address
    assert _paid(devnet, start) == [(challenger, PARAMS.submit_bond + PARAMS.challenge_bond)]


def test_dishonest_challenger_loses(devnet, tmp_path):
    start = Game(Party(devnet["url"]), devnet["game"]).block() + 1
    liar = Proc(
        "challenger",
        "--rpc",
        devnet["url"],
        "--game",
        devnet["game"],
        "--dishonest",
        "--private-key",
        dev_accounts()[2].key.hex(),
        "--poll",
        "0.05",
    )
    try:
        liar.wait_for("watching game")
        sid, proc = _submit(devnet, tmp_path, "cnn", 2)
        liar.wait_for("one-step proof rejected")
        proc.wait_for(f"submission {sid}: finalized", rpc=devnet["url"])
        assert _status(devnet, sid) == "finalized; 1 challenger slashed"
        liar.wait_for("lost (challenger timed out)")
    finally:
        liar.stop()
    submitter = dev_accounts()[0].address
    assert _paid(devnet, start) == [(submitter, PARAMS.challenge_bond), (submitter, PARAMS.submit_bond)]


def test_commands_explain_bad_input(devnet, tmp_path, capsys, monkeypatch):
    from evm_ext.cli import main

    monkeypatch.delenv("AIEVM_OPML_GAME", raising=False)
    model, address = devnet["models"]["mlp"]
    digit = str(_input(tmp_path, model, 0))
    url, game = devnet["url"], devnet["game"]
    cases = [
        (["submit", "--rpc", url, address, "--input", digit], "deploy one with `aievm opml deploy"),
        (
            ["submit", "--rpc", url, "--game", address, address, "--input", digit],
            "is not an OpmlGame contract",
        ),
        (["submit", "--rpc", url, "--game", game, game, "--input", digit], "is not a ModelStore"),
        (
            ["submit", "--rpc", url, "--game", game, address, "--input", str(tmp_path / "none.npy")],
            "cannot read",
        ),
        (
            ["submit", "--rpc", url, "--game", game, address, "--input", digit, "--tamper-op", "3"],
            "the model has ops 1..2",
        ),
        (["status", "--rpc", url, "--game", game, "999"], "no submission 999"),
        (["finalize", "--rpc", url, "--game", game, "999"], "no submission 999"),
        (["status", "--rpc", "http://127.0.0.1:9", "--game", game, "0"], "cannot reach a node"),
    ]
    np.save(tmp_path / "wrong.npy", np.zeros((3, 3)))
    cases.append(
        (
            ["submit", "--rpc", url, "--game", game, address, "--input", str(tmp_path / "wrong.npy")],
            "the model takes (784,)",
        )
    )
    for argv, message in cases:
        assert main(["opml", *argv]) == 2, argv
        assert message in capsys.readouterr().err, argv
    with pytest.raises(SystemExit):
        main(["opml", "submit", "--help"])
    assert "--tamper-op" in capsys.readouterr().out

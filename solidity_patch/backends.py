"""Solidity compiler backends: solc-js (default) and a native solc binary via py-solc-x.

A backend maps a standard-JSON input dict to solc's standard-JSON output dict. Both speak the same
protocol, so the same input gives the same output (and bytecode) for the same compiler version.

solc-js runs in one long-lived `node` process per backend (loading soljson costs ~0.4 s, a compile
of a small contract ~0.2 s): requests are single JSON lines on stdin, each reply is a decimal byte
count line followed by that many bytes of JSON.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import threading
from functools import cache
from pathlib import Path
from typing import Protocol

from solidity_patch.errors import CompilerError

_SERVER_JS = r"""
const solc = require(process.argv[1]);
const readline = require('readline');
const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
function reply(text) {
  const body = Buffer.from(text, 'utf8');
  process.stdout.write(body.length + '\n');
  process.stdout.write(body);
}
reply(solc.version());
rl.on('line', (line) => reply(solc.compile(line)));
"""


class Backend(Protocol):
    """A Solidity compiler speaking standard JSON."""

    @property
    def cache_key(self) -> str:
        """Identifies the compiler build cheaply (no compiler start), for the compile cache."""
        ...

    def compile(self, standard_input: dict) -> dict:
        """Run one standard-JSON compilation and return solc's output."""
        ...


def find_solcjs() -> Path:
    """The `node_modules/solc` package: `$AIEVM_SOLCJS`, else next to this project or the cwd."""
    env = os.environ.get("AIEVM_SOLCJS")
    candidates = [Path(env)] if env else []
    candidates += [Path(__file__).resolve().parent.parent / "node_modules" / "solc"]
    candidates += [p / "node_modules" / "solc" for p in (Path.cwd(), *Path.cwd().parents)]
    for path in candidates:
        if (path / "soljson.js").is_file():
            return path
    raise CompilerError(
        "solc-js not found: run `npm ci` in the aievm checkout (it installs node_modules/solc), "
        "set AIEVM_SOLCJS to a node_modules/solc directory, or pass --solc PATH to a native solc"
    )


class SolcJs:
    """solc-js (the emscripten build of solc) in a long-lived node process."""

    def __init__(self, package: Path | None = None):
        self.package = package or find_solcjs()
        meta = json.loads((self.package / "package.json").read_text())
        size = (self.package / "soljson.js").stat().st_size
        self.cache_key = f"solcjs-{meta['version']}-{size}"
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self.version = ""  # solc.version() of the running compiler, known once it has started

    def _start(self) -> subprocess.Popen:
        node = shutil.which("node")
        if node is None:
            raise CompilerError("`node` is not on PATH: install Node.js (>= 18) to use solc-js")
        proc = subprocess.Popen(
            [node, "-e", _SERVER_JS, str(self.package)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        atexit.register(_terminate, proc)
        self._proc = proc
        self.version = self._read().decode()  # announced by the server once soljson is loaded
        return proc

    def _read(self) -> bytes:
        assert self._proc is not None and self._proc.stdout is not None
        header = self._proc.stdout.readline()
        if not header:
            self.close()
            raise CompilerError("solc-js (node) exited unexpectedly")
        return self._proc.stdout.read(int(header))

    def compile(self, standard_input: dict) -> dict:
        with self._lock:
            proc = self._proc if self._proc and self._proc.poll() is None else self._start()
            assert proc.stdin is not None
            try:
                proc.stdin.write(json.dumps(standard_input).encode() + b"\n")
                proc.stdin.flush()
            except BrokenPipeError:
                self.close()
                raise CompilerError("solc-js (node) exited unexpectedly") from None
            return json.loads(self._read())

    def close(self) -> None:
        if self._proc is not None:
            _terminate(self._proc)
            self._proc = None


def _terminate(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.stdin.close()  # type: ignore[union-attr]
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


class NativeSolc:
    """A native `solc` binary driven through py-solc-x (`solc --standard-json`)."""

    def __init__(self, path: str | Path):
        import solcx.wrapper

        resolved = shutil.which(str(path))
        if resolved is None:
            raise CompilerError(f"solc binary not found or not executable: {path}")
        self.path = Path(resolved)
        try:
            self.version = str(solcx.wrapper.get_solc_version(self.path, with_commit_hash=True))
        except Exception as exc:  # a broken binary: report it, do not crash
            raise CompilerError(f"{path} is not a working solc: {exc}") from exc
        self.cache_key = f"native-{self.version}"

    def compile(self, standard_input: dict) -> dict:
        import solcx.exceptions
        import solcx.wrapper

        try:
            stdout, _, _, _ = solcx.wrapper.solc_wrapper(
                solc_binary=self.path, stdin=json.dumps(standard_input), standard_json=True
            )
        except solcx.exceptions.SolcError as exc:
            raise CompilerError(f"{self.path} failed: {exc}") from exc
        return json.loads(stdout)


@cache
def default_backend() -> SolcJs:
    """The process-wide solc-js backend (one node process, started on first compile)."""
    return SolcJs()


def get_backend(solc: str | Path | Backend | None) -> Backend:
    """`None` -> solc-js; a path -> native solc; a Backend -> itself."""
    if solc is None:
        return default_backend()
    if isinstance(solc, str | Path):
        return _native(str(solc))
    return solc


@cache
def _native(path: str) -> NativeSolc:
    return NativeSolc(path)

"""Rebuild `ModelStore.json` from `ModelStore.sol` with the pinned solc-js (`node_modules/solc`).

Run `python -m evm_ext.contracts.build` after editing the Solidity source. The committed artifact is the
consensus reference: the fork pins its runtime code hash (`evm_ext.vm.model_store.MODEL_STORE_CODE_HASH`)
and a test checks that this script reproduces the artifact byte for byte.

Settings: optimizer on (200 runs), evmVersion cancun (runs on both forks), no CBOR metadata appended, so
the runtime code depends only on the source semantics and compiler version.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from eth_utils import keccak

from evm_ext.errors import AievmError

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "ModelStore.sol"
ARTIFACT = HERE / "ModelStore.json"
SOLC_JS = HERE.parents[1] / "node_modules" / "solc"

SETTINGS = {
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": "cancun",
    "metadata": {"appendCBOR": False, "bytecodeHash": "none"},
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
}

_RUNNER = """
const solc = require(process.argv[1]);
let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", () => {
  process.stdout.write(JSON.stringify({version: solc.version(), output: JSON.parse(solc.compile(input))}));
});
"""


def build_artifact() -> dict:
    """Compile ModelStore.sol and return the artifact dict (abi, bytecode, runtime, codeHash, compiler)."""
    if not SOLC_JS.is_dir():
        raise AievmError(f"solc-js not found at {SOLC_JS}: run `npm ci` in the project root")
    std_in = {
        "language": "Solidity",
        "sources": {"ModelStore.sol": {"content": SOURCE.read_text()}},
        "settings": SETTINGS,
    }
    proc = subprocess.run(
        ["node", "-e", _RUNNER, str(SOLC_JS)],
        input=json.dumps(std_in),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise AievmError(f"solc-js failed: {proc.stderr.strip()}")
    result = json.loads(proc.stdout)
    errors = [e for e in result["output"].get("errors", []) if e["severity"] == "error"]
    if errors:
        messages = "\n".join(e["formattedMessage"] for e in errors)
        raise AievmError(f"ModelStore.sol does not compile:\n{messages}")
    contract = result["output"]["contracts"]["ModelStore.sol"]["ModelStore"]
    runtime = bytes.fromhex(contract["evm"]["deployedBytecode"]["object"])
    return {
        "contractName": "ModelStore",
        "compiler": {"name": "solc-js", "version": result["version"], "settings": SETTINGS},
        "abi": contract["abi"],
        "bytecode": "0x" + contract["evm"]["bytecode"]["object"],
        "runtime": "0x" + runtime.hex(),
        "runtimeCodeHash": "0x" + keccak(runtime).hex(),
    }


def main() -> None:
    ARTIFACT.write_text(json.dumps(build_artifact(), indent=2) + "\n")
    print(f"wrote {ARTIFACT}")


if __name__ == "__main__":
    main()

"""Rebuild `ModelStore.json` from `ModelStore.sol` with the pinned solc-js (`node_modules/solc`, driven by
`solidity_patch`'s backend).

Run `python -m evm_ext.contracts.build` after editing the Solidity source. The committed artifact is the
consensus reference: the fork pins its runtime code hash (`evm_ext.vm.model_store.MODEL_STORE_CODE_HASH`)
and a test checks that this script reproduces the artifact byte for byte.

Settings: optimizer on (200 runs), evmVersion cancun (runs on both forks), no CBOR metadata appended, so
the runtime code depends only on the source semantics and compiler version.
"""

from __future__ import annotations

import json
from pathlib import Path

from eth_utils import keccak

from evm_ext.errors import AievmError
from solidity_patch.backends import SolcJs

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "ModelStore.sol"
ARTIFACT = HERE / "ModelStore.json"

SETTINGS = {
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": "cancun",
    "metadata": {"appendCBOR": False, "bytecodeHash": "none"},
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
}

def build_artifact() -> dict:
    """Compile ModelStore.sol and return the artifact dict (abi, bytecode, runtime, codeHash, compiler)."""
    std_in = {
        "language": "Solidity",
        "sources": {"ModelStore.sol": {"content": SOURCE.read_text()}},
        "settings": SETTINGS,
    }
    solc = SolcJs()  # a fresh process: its version() is what the artifact records
    try:
        output = solc.compile(std_in)
    finally:
        solc.close()
    errors = [e for e in output.get("errors", []) if e["severity"] == "error"]
    if errors:
        messages = "\n".join(e["formattedMessage"] for e in errors)
        raise AievmError(f"ModelStore.sol does not compile:\n{messages}")
    contract = output["contracts"]["ModelStore.sol"]["ModelStore"]
    runtime = bytes.fromhex(contract["evm"]["deployedBytecode"]["object"])
    return {
        "contractName": "ModelStore",
        "compiler": {"name": "solc-js", "version": solc.version, "settings": SETTINGS},
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

"""The optimistic-inference contracts (docs/optimistic.md): sources, pinned build and artifacts.

`artifacts()` loads `opml.json` (committed; `python -m evm_ext.contracts.opml` rebuilds it from the
`.sol` files with the pinned solc-js, and tests/test_opml_contracts.py checks the rebuild is identical).
`infer/InferOneStep.sol` calls the `infer()` builtin, so it is built by `aievm compile`'s pipeline
(solidity_patch) with the same optimizer settings; it runs only on chains with INFER.
Settings: optimizer on (200 runs) through the IR pipeline, evmVersion cancun (no INFER and no Prague
opcode needed), no CBOR metadata.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from evm_ext.errors import AievmError

HERE = Path(__file__).resolve().parent
ARTIFACT = HERE / "opml.json"
CONTRACTS = ("OneStepVerifier", "OpmlGame", "InferOneStep")
INFER_SOURCE = HERE / "infer" / "InferOneStep.sol"  # uses infer(): built by `aievm compile`
SETTINGS = {
    "optimizer": {"enabled": True, "runs": 200},
    "viaIR": True,
    "evmVersion": "cancun",
    "metadata": {"appendCBOR": False, "bytecodeHash": "none"},
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
}


@dataclass(frozen=True)
class Artifact:
    """One compiled contract: ABI, creation code and runtime code."""

    abi: list[dict]
    bytecode: bytes
    runtime: bytes


def build() -> dict:
    """Compile every .sol file here; return the artifact dict written to `opml.json`."""
    from solidity_patch import compile_file
    from solidity_patch.backends import SolcJs

    sources = {p.name: {"content": p.read_text()} for p in sorted(HERE.glob("*.sol"))}
    solc = SolcJs()
    try:
        output = solc.compile({"language": "Solidity", "sources": sources, "settings": SETTINGS})
    finally:
        solc.close()
    errors = [e for e in output.get("errors", []) if e["severity"] == "error"]
    if errors:
        raise AievmError(
            "the opml contracts do not compile:\n" + "\n".join(e["formattedMessage"] for e in errors)
        )
    out: dict = {"compiler": {"name": "solc-js", "version": solc.version, "settings": SETTINGS}}
    for name in CONTRACTS[:2]:
        contract = output["contracts"][f"{name}.sol"][name]
        out[name] = {
            "abi": contract["abi"],
            "bytecode": "0x" + contract["evm"]["bytecode"]["object"],
            "runtime": "0x" + contract["evm"]["deployedBytecode"]["object"],
        }
    infer = compile_file(INFER_SOURCE, base_path=HERE, evm_version="cancun")["InferOneStep"]
    out["InferOneStep"] = {k: infer[k] for k in ("abi", "bytecode")} | {"runtime": infer["deployedBytecode"]}
    return out


@cache
def artifacts() -> dict[str, Artifact]:
    """The committed build, by contract name."""
    raw = json.loads(ARTIFACT.read_text())
    return {
        name: Artifact(
            raw[name]["abi"],
            bytes.fromhex(raw[name]["bytecode"][2:]),
            bytes.fromhex(raw[name]["runtime"][2:]),
        )
        for name in CONTRACTS
    }

"""The INFER precompile's strict input decoding and its registration in the aievm forks only."""

from __future__ import annotations

import eth_abi

from evm_ext.vm.forks import INFER_VMS
from evm_ext.vm.precompile import INFER_PRECOMPILE_ADDRESS, decode_input
from nodes.chain import vm_for_fork

MODEL = bytes.fromhex("5fbdb2315678afecb367f032d93f642f64180aa3")


def test_decodes_abi_encode_address_bytes():
    data = eth_abi.encode(["address", "bytes"], [MODEL, b"\x01\x02\x03"])
    assert decode_input(data) == (MODEL, b"\x01\x02\x03")
    assert decode_input(eth_abi.encode(["address", "bytes"], [MODEL, b""])) == (MODEL, b"")


def test_refuses_non_canonical_encodings():
    good = eth_abi.encode(["address", "bytes"], [MODEL, b"\x01\x02\x03"])
    assert decode_input(good[:-1]) is None  # truncated padding
    assert decode_input(good + bytes(32)) is None  # trailing data
    assert decode_input(b"\x01" + good[1:]) is None  # dirty address word
    assert decode_input(good[:32] + (96).to_bytes(32, "big") + good[64:]) is None  # other offset
    assert decode_input(good[:-1] + b"\x01") is None  # dirty padding
    assert decode_input(b"") is None


def test_registered_in_the_infer_forks_only():
    assert INFER_PRECOMPILE_ADDRESS == b"\x00" * 18 + b"\x0a\xc0"
    for vm in INFER_VMS.values():
        assert INFER_PRECOMPILE_ADDRESS in vm.get_state_class().computation_class.get_precompiles()
    stock = vm_for_fork("cancun-noinfer").get_state_class().computation_class
    assert INFER_PRECOMPILE_ADDRESS not in stock.get_precompiles()
    assert max(int.from_bytes(a, "big") for a in stock.get_precompiles()) < 0x100


def test_docs_example_compiles_without_the_infer_opcode():
    """docs/solidity.md's AIPrecompile example, as a user would paste it."""
    import re

    from solidity_patch import compile_source
    from solidity_patch.disasm import code_bytes, opcode_offsets
    from tests.node_fixtures import ROOT

    section = (ROOT / "docs" / "solidity.md").read_text().split("## Stock compilers", 1)[1]
    (example,) = re.findall(r"```solidity\n(.*?)```", section.split("\n## ", 1)[0], re.DOTALL)
    source = "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.4;\n" + example
    artifact = compile_source(source, "Classifier.sol", use_cache=False)["Classifier"]
    assert opcode_offsets(code_bytes(artifact["deployedBytecode"]), 0xC0) == []
    assert [(f["type"], f["name"]) for f in artifact["abi"]] == [
        ("error", "InferFailed"),
        ("function", "run"),
    ]

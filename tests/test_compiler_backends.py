"""Backends and building blocks: native solc via py-solc-x gives solc-js's bytecode; verbatim's stack
order; the disassembler; the AI.sol library on a real chain."""

from __future__ import annotations

import stat

import pytest
from eth.exceptions import Revert

from solidity_patch import CompilerError, compile_source
from solidity_patch.backends import SolcJs, default_backend, find_solcjs
from solidity_patch.disasm import code_bytes, data_occurrences, opcode_offsets, strip_metadata
from solidity_patch.yul_patch import patch_ir
from tests.compiler_support import Chain
from tests.test_compiler_builtins import AI_CONTRACT


@pytest.fixture(scope="module")
def solc_cli(tmp_path_factory):
    """solc-js's own command line (the real compiler) behind the interface of a native `solc`."""
    path = tmp_path_factory.mktemp("bin") / "solc"
    solcjs = find_solcjs() / "solc.js"
    path.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "--version" ]; then\n'
        '  echo "solc, the solidity compiler commandline interface"\n'
        f'  echo "Version: $(node {solcjs} --version)"\n'
        "  exit 0\n"
        "fi\n"
        f'node {solcjs} "$@" | grep -v "^>>>"\n'
    )
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def test_native_solc_backend_gives_the_same_artifacts(solc_cli):
    native = compile_source(AI_CONTRACT, solc=solc_cli, use_cache=False)
    js = compile_source(AI_CONTRACT, use_cache=False)
    for key in ("abi", "bytecode", "deployedBytecode", "metadata"):
        assert native["AIContract"][key] == js["AIContract"][key]


def _run_yul(body: str) -> bytes:
    source = f'object "T" {{ code {{ {body} }} }}'
    output = default_backend().compile(
        {
            "language": "Yul",
            "sources": {"t.yul": {"content": source}},
            "settings": {
                "evmVersion": "prague",
                "optimizer": {"enabled": True},
                "outputSelection": {"*": {"*": ["evm.bytecode.object"]}},
            },
        }
    )
    return bytes.fromhex(output["contracts"]["t.yul"]["T"]["evm"]["bytecode"]["object"])


def test_verbatim_puts_the_first_argument_on_top_of_the_stack():
    # SUB (0x03) computes top - second: 10 - 3 if the first argument is on top.
    code = _run_yul('mstore(0, verbatim_2i_1o(hex"03", 10, 3)) return(0, 32)')
    chain = Chain()
    # Deploy code whose runtime is `code`, then call it.
    init = bytes.fromhex("61") + len(code).to_bytes(2, "big") + bytes.fromhex("80600c6000396000f3") + code
    address = chain.deploy({"bytecode": "0x" + init.hex(), "linkReferences": {}})
    assert chain.chain.get_vm().state.get_code(address) == code
    computation = chain.transact(address, b"")
    assert computation.output == (7).to_bytes(32, "big")


def test_disassembler_skips_push_data_and_metadata():
    metadata = bytes.fromhex("a1") + b"\xc0" * 5
    code = bytes.fromhex("60c0c07f") + b"\xc0" * 32 + bytes.fromhex("5fc1") + metadata + bytes([0, 6])
    assert strip_metadata(code) == code[: -len(metadata) - 2]
    assert opcode_offsets(code, 0xC0) == [2]
    assert opcode_offsets(code, 0xC1) == [37]
    assert data_occurrences(code, 0xC0) == [1, *range(4, 36)]
    placeholder = "0x73__$" + "ab" * 17 + "$__c0"
    assert code_bytes(placeholder) == bytes([0x73]) + bytes(20) + b"\xc0"


LIBRARY_USER = """\
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;
import {AI} from "aievm/AI.sol";
contract Tensors {
    function argmax8(bytes memory t) external pure returns (uint256) { return AI.argmax(t); }
    function argmax32(int32[] memory v) external pure returns (uint256) { return AI.argmax(v); }
    function enc8(int8[] memory v) external pure returns (bytes memory) { return AI.encodeInt8(v); }
    function dec8(bytes memory t) external pure returns (int8[] memory) { return AI.decodeInt8(t); }
    function enc32(int32[] memory v) external pure returns (bytes memory) { return AI.encodeInt32(v); }
    function dec32(bytes memory t) external pure returns (int32[] memory) { return AI.decodeInt32(t); }
}
"""


def test_ai_library_tensor_helpers():
    artifact = compile_source(LIBRARY_USER, use_cache=False)["Tensors"]
    chain = Chain()
    address = chain.deploy(artifact)
    abi = artifact["abi"]
    values8 = [-128, -1, 0, 1, 127, 5]
    raw8 = bytes(v & 0xFF for v in values8)
    assert chain.call(address, abi, "enc8", values8) == (raw8,)
    assert chain.call(address, abi, "dec8", raw8) == (tuple(values8),)
    assert chain.call(address, abi, "argmax8", raw8) == (4,)
    assert chain.call(address, abi, "argmax8", bytes([0x80, 0xFF, 0xFF])) == (1,)  # first of ties
    values32 = [-(2**31), -1, 0, 2**31 - 1, 123456]
    raw32 = b"".join(v.to_bytes(4, "little", signed=True) for v in values32)
    assert chain.call(address, abi, "enc32", values32) == (raw32,)
    assert chain.call(address, abi, "dec32", raw32) == (tuple(values32),)
    assert chain.call(address, abi, "argmax32", values32) == (3,)
    with pytest.raises(Revert, match="AI: int32 tensor length not a multiple of 4"):
        chain.call(address, abi, "dec32", b"\x00" * 5)
    with pytest.raises(Revert, match="AI: empty tensor"):
        chain.call(address, abi, "argmax8", b"")


def test_patch_ir_replaces_every_builtin_definition_or_fails():
    ir = (
        "function fun_infer_46(var_m_1, var_x_2_mpos, var_y_3_mpos) -> var_ok_4 {\n"
        '    /// @src 1:0:10  "function infer(...) {..."\n'
        "    let z := 0 { } var_ok_4 := z\n"
        "}\n"
        "function fun_infer_47(a, b, c) -> d { }\n"
    )
    patched, count = patch_ir(ir, {"infer": 46, "modelinfo": 50})
    assert count == 1
    assert 'verbatim_5i_1o(hex"c0", and(var_m_1, 0xffffffffffffffffffffffffffffffffffffffff)' in patched
    assert "add(var_x_2_mpos, 0x20), mload(var_x_2_mpos)" in patched
    assert "var_ok_4 := success\n}\nfunction fun_infer_47(a, b, c) -> d { }\n" in patched
    assert "let z" not in patched
    with pytest.raises(CompilerError, match="unexpected IR signature"):
        patch_ir("function fun_infer_46(a, b) -> c { }", {"infer": 46})
    with pytest.raises(CompilerError, match="1 builtin IR function"):
        patch_ir("function fun_infer_46(a, b, c) { }", {"infer": 46})


def test_solcjs_process_is_restarted_after_it_dies():
    backend = SolcJs()
    trivial = {"language": "Solidity", "sources": {"a.sol": {"content": "contract A {}"}}, "settings": {}}
    assert "sources" in backend.compile(trivial)
    backend._proc.kill()
    backend._proc.wait()
    assert "sources" in backend.compile(trivial)
    backend.close()
    assert backend._proc is None

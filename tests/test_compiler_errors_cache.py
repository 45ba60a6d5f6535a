"""Diagnostics point at the user's file and line; the compile cache hits, and misses on any change."""

from __future__ import annotations

import json

import pytest

from evm_ext.cli import main
from solidity_patch import CompileError, CompilerError, compile_file, compile_source
from solidity_patch.disasm import code_bytes, opcode_offsets

HEADER = "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.30;\n"


def test_syntax_error_reports_file_and_line():
    source = (
        HEADER + "contract C {\n    function f() public pure returns (uint) {\n        return 1\n    }\n}\n"
    )
    with pytest.raises(CompileError) as info:
        compile_source(source, "src/Broken.sol", use_cache=False)
    (diagnostic,) = info.value.diagnostics
    assert diagnostic["type"] == "ParserError"
    assert "--> src/Broken.sol:6:5:" in diagnostic["formattedMessage"]
    assert "src/Broken.sol:6:5" in str(info.value)


def test_misused_builtin_is_reported_at_the_call_not_the_declaration():
    source = (
        HEADER + "contract C {\n    function f(address m) public pure returns (bool) {\n"
        '        return infer(m, hex"01", 5);\n    }\n}\n'
    )
    with pytest.raises(CompileError) as info:
        compile_source(source, "Use.sol", use_cache=False)
    (diagnostic,) = info.value.diagnostics
    assert diagnostic["sourceLocation"]["file"] == "Use.sol"
    assert "--> Use.sol:5:34:" in diagnostic["formattedMessage"]
    assert "aievm/builtins.sol" not in str(info.value)


def test_user_declaration_of_a_builtin_name_takes_precedence():
    source = (
        HEADER + "function infer(uint256 x) pure returns (uint256) { return x + 1; }\n"
        "contract C { function f() public pure returns (uint256) { return infer(41); } }\n"
    )
    artifacts = compile_source(source, use_cache=False)
    assert artifacts.warnings == []
    assert opcode_offsets(code_bytes(artifacts["C"]["deployedBytecode"]), 0xC0) == []


def test_missing_import_is_solcs_error_at_the_import(tmp_path):
    (tmp_path / "Main.sol").write_text(HEADER + 'import "./Missing.sol";\ncontract C {}\n')
    with pytest.raises(CompileError, match=r"Main\.sol:3:1"):
        compile_file(tmp_path / "Main.sol", use_cache=False)


def test_cli_writes_artifacts_and_reports_errors_without_traceback(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AIEVM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts" / "Sizes.sol").write_text(
        HEADER
        + "contract Sizes {\n    function sizes(address m) external pure returns (uint256 a, uint256 b) {\n"
        "        return modelinfo(m);\n    }\n}\n"
    )
    assert main(["compile", "contracts/Sizes.sol", "-o", "out"]) == 0
    artifact = json.loads((tmp_path / "out" / "Sizes.json").read_text())
    assert artifact["contractName"] == "Sizes" and artifact["sourceName"] == "contracts/Sizes.sol"
    assert "INFER x0, MODELINFO x1" in capsys.readouterr().out

    (tmp_path / "contracts" / "Bad.sol").write_text(HEADER + "contract Bad { uint x = ; }\n")
    assert main(["compile", "contracts/Bad.sol"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("aievm: error: compilation failed:\nParserError:")
    assert "contracts/Bad.sol:3:25" in err and "Traceback" not in err

    assert main(["compile", "contracts/Nope.sol"]) == 2
    assert f"cannot read {tmp_path / 'contracts' / 'Nope.sol'}: No such file" in capsys.readouterr().err
    (tmp_path / "contracts" / "Binary.sol").write_bytes(b"\xff\xfe\x00contract")
    assert main(["compile", "contracts/Binary.sol"]) == 2
    assert "Binary.sol is not UTF-8 text" in capsys.readouterr().err
    with pytest.raises(CompilerError, match="solc binary not found"):
        compile_source("contract C {}", solc=tmp_path / "no-solc")


def test_second_compile_hits_the_cache_and_any_change_misses(tmp_path, monkeypatch):
    monkeypatch.setenv("AIEVM_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "Lib.sol").write_text(
        HEADER + "library Lib { function f() internal pure returns (uint) { return 1; } }\n"
    )
    main_source = (
        HEADER
        + 'import "./Lib.sol";\ncontract C { function g() public pure returns (uint) { return Lib.f(); } }\n'
    )
    (tmp_path / "C.sol").write_text(main_source)

    first = compile_file(tmp_path / "C.sol")
    second = compile_file(tmp_path / "C.sol")
    assert (first.cache_hit, second.cache_hit) == (False, True)
    assert second == first and second.warnings == first.warnings
    assert len(list((tmp_path / "cache").glob("*/*.json"))) == 1

    assert compile_file(tmp_path / "C.sol", runs=1).cache_hit is False  # settings are in the key
    (tmp_path / "Lib.sol").write_text(
        HEADER + "library Lib { function f() internal pure returns (uint) { return 2; } }\n"
    )
    changed = compile_file(tmp_path / "C.sol")  # an imported file changed
    assert changed.cache_hit is False
    assert changed["C"]["deployedBytecode"] != first["C"]["deployedBytecode"]
    assert compile_file(tmp_path / "C.sol", use_cache=False).cache_hit is False


def test_code_generation_failure_names_the_contract():
    params = ", ".join(f"uint a{i}" for i in range(17))
    total = " + ".join(f"a{i}" for i in range(17))
    source = (
        HEADER
        + f"contract Deep {{ function f({params}) external pure returns (uint) {{ return {total}; }} }}"
    )
    with pytest.raises(
        CompileError, match="the Yul code generated for Contract.sol:Deep does not compile"
    ) as info:
        compile_source(source, optimize=False, use_cache=False)
    assert "StackTooDeep" in str(info.value)

"""`aievm compile` resolves imports as Hardhat and Foundry do: node_modules above the source and
Foundry-style remappings.txt, with no flag; a malformed remapping is a clear error."""

from __future__ import annotations

import pytest

from evm_ext.cli import main
from solidity_patch import CompilerError, compile_file

HEADER = "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.30;\n"
LIB = HEADER + "library Six { function six() internal pure returns (uint256) { return 6; } }\n"
USER = HEADER + (
    'import "{path}";\n'
    "contract User {{ function f() external pure returns (uint256) {{ return Six.six(); }} }}\n"
)


def _package(root, relative: str) -> None:
    file = root / relative
    file.parent.mkdir(parents=True)
    file.write_text(LIB)


def test_node_modules_found_walking_up_from_the_source(tmp_path, monkeypatch, capsys):
    _package(tmp_path, "node_modules/@acme/lib/contracts/Six.sol")
    source = tmp_path / "project" / "contracts" / "User.sol"
    source.parent.mkdir(parents=True)
    source.write_text(USER.format(path="@acme/lib/contracts/Six.sol"))
    result = compile_file(source, base_path=tmp_path / "project", use_cache=False)
    assert set(result) == {"User", "Six"}
    assert result["Six"]["sourceName"] == "@acme/lib/contracts/Six.sol"  # Hardhat's unit name
    # the same through the CLI, from the project directory and with no --include-path
    monkeypatch.chdir(tmp_path / "project")
    assert main(["compile", "contracts/User.sol", "-o", "out", "--no-cache"]) == 0
    assert (tmp_path / "project" / "out" / "User.json").is_file()
    assert "compiled 2 contract(s)" in capsys.readouterr().err


def test_remappings_txt_maps_prefixes_like_foundry(tmp_path):
    _package(tmp_path, "lib/six-lib/src/Six.sol")
    (tmp_path / "remappings.txt").write_text("# Foundry style\nsix/=lib/six-lib/src/\n")
    source = tmp_path / "src" / "User.sol"
    source.parent.mkdir()
    source.write_text(USER.format(path="six/Six.sol"))
    result = compile_file(source, base_path=tmp_path, use_cache=False)
    assert result["Six"]["sourceName"] == "lib/six-lib/src/Six.sol"
    assert result["User"]["compiler"]["settings"]["remappings"] == ["six/=lib/six-lib/src/"]


def test_longest_context_then_prefix_wins(tmp_path):
    _package(tmp_path, "lib/a/Six.sol")
    _package(tmp_path, "lib/b/Six.sol")
    (tmp_path / "remappings.txt").write_text("x/=lib/a/\nsrc/:x/=lib/b/\n")
    source = tmp_path / "src" / "User.sol"
    source.parent.mkdir()
    source.write_text(USER.format(path="x/Six.sol"))
    result = compile_file(source, base_path=tmp_path, use_cache=False)
    assert result["Six"]["sourceName"] == "lib/b/Six.sol"


def test_malformed_remapping_names_file_and_line(tmp_path):
    (tmp_path / "remappings.txt").write_text("ok/=lib/\nbroken-line\n")
    (tmp_path / "C.sol").write_text(HEADER + "contract C {}\n")
    with pytest.raises(CompilerError, match=r"remappings\.txt:2: expected \[context:\]prefix=target"):
        compile_file(tmp_path / "C.sol", base_path=tmp_path, use_cache=False)

"""Ordinary Solidity through the Yul pipeline: constructors, inheritance, `new`, libraries (linked and
internal), interfaces and several contracts per file compile, deploy and run on a real py-evm chain,
with the same ABIs as a plain solc-js compile."""

from __future__ import annotations

import pytest

from solidity_patch import compile_source
from solidity_patch.backends import default_backend
from tests.compiler_support import Chain

SOURCE = """\
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

interface ICounter { function count() external view returns (uint256); }

library Linked {
    function triple(uint256 x) external pure returns (uint256) { return 3 * x; }
}

library Inline {
    function double(uint256 x) internal pure returns (uint256) { return 2 * x; }
}

abstract contract Named {
    string public name;
    constructor(string memory name_) { name = name_; }
    function describe() public view virtual returns (string memory);
}

contract Counter is Named, ICounter {
    uint256 public override count;
    uint256 public immutable step;
    event Bumped(uint256 count);
    error TooBig(uint256 value);

    constructor(string memory name_, uint256 step_) Named(name_) { step = step_; }

    function bump() external returns (uint256) {
        count += Inline.double(step);
        if (count > 1000) revert TooBig(count);
        emit Bumped(count);
        return count;
    }

    function describe() public view override returns (string memory) { return string.concat(name, "!"); }
}

contract Factory {
    Counter public last;

    function make(uint256 step) external returns (uint256) {
        last = new Counter("made", step);
        last.bump();
        return Linked.triple(last.count());
    }
}
"""


@pytest.fixture(scope="module")
def artifacts():
    return compile_source(SOURCE, use_cache=False)


def test_every_contract_has_an_artifact(artifacts):
    assert sorted(artifacts) == ["Counter", "Factory", "ICounter", "Inline", "Linked", "Named"]
    assert artifacts["ICounter"]["bytecode"] == artifacts["Named"]["deployedBytecode"] == "0x"
    factory = artifacts["Factory"]
    assert factory["_format"] == "hh-sol-artifact-1"
    assert factory["sourceName"] == "Contract.sol"
    assert factory["compiler"]["version"].startswith("0.8.30+commit.")
    refs = factory["deployedLinkReferences"]["Contract.sol"]["Linked"]
    assert len(refs) == 1 and refs[0]["length"] == 20
    assert factory["linkReferences"]["Contract.sol"]["Linked"][0]["length"] == 20
    assert (
        set(artifacts["Counter"]["immutableReferences"]) and not artifacts["Factory"]["immutableReferences"]
    )


def test_abis_equal_a_plain_solc_compile(artifacts):
    plain = default_backend().compile(
        {
            "language": "Solidity",
            "sources": {"Contract.sol": {"content": SOURCE}},
            "settings": {"outputSelection": {"*": {"*": ["abi"]}}},
        }
    )
    assert not [e for e in plain.get("errors", []) if e["severity"] == "error"]
    expected = {name: c["abi"] for name, c in plain["contracts"]["Contract.sol"].items()}
    assert {name: a["abi"] for name, a in artifacts.items()} == expected


def test_deploy_and_call(artifacts):
    chain = Chain()
    counter_abi = artifacts["Counter"]["abi"]
    counter = chain.deploy(artifacts["Counter"], (["string", "uint256"], ["first", 7]))
    assert chain.call(counter, counter_abi, "step") == (7,)
    assert chain.call(counter, counter_abi, "describe") == ("first!",)
    assert chain.call(counter, counter_abi, "bump", transact=True) == (14,)
    assert chain.call(counter, counter_abi, "count") == (14,)

    linked = chain.deploy(artifacts["Linked"])
    with pytest.raises(Exception, match="no address given for library Contract.sol:Linked"):
        chain.deploy(artifacts["Factory"])
    factory = chain.deploy(artifacts["Factory"], libraries={"Linked": "0x" + linked.hex()})
    assert chain.call(factory, artifacts["Factory"]["abi"], "make", 5, transact=True) == (30,)
    (child,) = chain.call(factory, artifacts["Factory"]["abi"], "last")
    assert chain.call(bytes.fromhex(child[2:]), counter_abi, "name") == ("made",)
    assert chain.call(bytes.fromhex(child[2:]), counter_abi, "count") == (10,)

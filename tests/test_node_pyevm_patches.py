"""The pinned py-evm still has every private name nodes/pyevm_patches.py relies on; a missing one
fails naming the patch, so that upgrading py-evm cannot silently change what the node does."""

from __future__ import annotations

import importlib
import inspect
import re

import pytest

from nodes.pyevm_patches import PRIVATE_NAMES


def _instance_names(cls: type) -> set[str]:
    """Class attributes plus the names its __init__ assigns on self (read from the source)."""
    names = set(dir(cls))
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None and hasattr(init, "__code__"):
            names |= set(re.findall(r"self\.(\w+)\s*[:=]", inspect.getsource(init)))
    return names


@pytest.mark.parametrize("patch", sorted(PRIVATE_NAMES))
def test_pinned_py_evm_has_the_private_names_of(patch):
    dotted, names = PRIVATE_NAMES[patch]
    module_name, class_name = dotted.rsplit(".", 1)
    cls = getattr(importlib.import_module(module_name), class_name)
    missing = sorted(set(names) - _instance_names(cls))
    assert not missing, f"py-evm changed private names used by patch {patch}: {dotted} lacks {missing}"


def test_a_missing_name_fails_naming_the_patch():
    """The check itself is not trivially true: a name py-evm does not have is reported."""
    from eth.db.account import AccountDB

    assert "_no_such_cache" not in _instance_names(AccountDB)
    assert "_account_cache" in _instance_names(AccountDB)

"""The extension fork against ethereum/tests GeneralStateTests (Cancun post-states).

The fixtures live outside the repository (`../shared/fixtures/...`); without them these tests skip
with the reason, in CI they are present and run. The full suite is `python -m evm_ext.conformance --all`.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from evm_ext import conformance
from evm_ext.conformance import EXPECTED, FAILED, PASSED
from evm_ext.conformance_expected import EXPECTED_DIFFERENT, NEW_OPCODE_CASES, PY_EVM_GAPS

FIXTURES = conformance.DEFAULT_FIXTURES
needs_fixtures = pytest.mark.skipif(
    not FIXTURES.is_dir(), reason=f"ethereum/tests GeneralStateTests not found at {FIXTURES}"
)

ALL_CASES = 20969
SAMPLE_SIZE, SEED = 3000, 152
SAMPLE_COUNTS = {PASSED: 2980, EXPECTED: 20}
ADD11 = "stExample/add11.json::add11[d0g0v0]"


@pytest.fixture(scope="module")
def cases() -> list[conformance.Case]:
    return conformance.discover(FIXTURES)


def _outcomes(results) -> dict[str, str]:
    return {result.case.id: result.outcome for result in results}


@needs_fixtures
def test_discovers_every_cancun_case_once(cases):
    assert len(cases) == ALL_CASES
    assert len({case.id for case in cases}) == ALL_CASES


@needs_fixtures
def test_expected_lists_name_existing_cases(cases):
    ids = {case.id for case in cases}
    assert set(EXPECTED_DIFFERENT) <= ids
    assert not set(NEW_OPCODE_CASES) & set(PY_EVM_GAPS)
    assert all(reason.strip() for reason in EXPECTED_DIFFERENT.values())


@needs_fixtures
def test_sample_is_deterministic(cases):
    first = conformance.sample(cases, 50, SEED)
    assert first == conformance.sample(cases, 50, SEED)
    assert first != conformance.sample(cases, 50, SEED + 1)
    assert first == sorted(first) and len(set(first)) == 50


@needs_fixtures
def test_sample_reproduces_every_post_state(cases):
    results = list(conformance.run(conformance.sample(cases, SAMPLE_SIZE, SEED), jobs=2))
    assert [f"{r.case.id}: {r.detail}" for r in results if r.outcome == FAILED] == []
    assert Counter(r.outcome for r in results) == SAMPLE_COUNTS


@needs_fixtures
def test_new_opcode_cases_differ_only_through_the_new_opcodes(cases):
    """Each listed case differs with CancunInferVM, reproduces with plain CancunVM, executes 0xC0/0xC1."""
    listed = [case for case in cases if case.id in NEW_OPCODE_CASES]
    assert _outcomes(conformance.run(listed, jobs=2)) == {case.id: EXPECTED for case in listed}
    assert _outcomes(conformance.run(listed, "cancun", jobs=2)) == {case.id: PASSED for case in listed}
    for case in listed[:5]:
        fixture = json.loads((FIXTURES / case.path).read_bytes())[case.test]
        explanation = conformance.diagnose(fixture, fixture["post"]["Cancun"][case.index])
        assert explanation.startswith("plain CancunVM reproduces; new opcodes executed: 0xC")


@needs_fixtures
def test_py_evm_gaps_are_gaps_of_plain_cancun(cases):
    """The listed py-evm gaps fail with plain CancunVM too: they are not caused by the extension."""
    listed = [case for case in cases if case.id in PY_EVM_GAPS]
    assert _outcomes(conformance.run(listed, jobs=2)) == {case.id: EXPECTED for case in listed}
    assert _outcomes(conformance.run(listed, "cancun", jobs=2)) == {case.id: FAILED for case in listed}


def _tampered_fixture(tmp_path: Path, **changes: str) -> Path:
    """A copy of stExample/add11.json with the post entry's fields replaced by `changes`."""
    target = tmp_path / "stExample" / "add11.json"
    target.parent.mkdir()
    shutil.copy(FIXTURES / "stExample" / "add11.json", target)
    data = json.loads(target.read_text())
    data["add11"]["post"]["Cancun"][0].update(changes)
    target.write_text(json.dumps(data))
    return tmp_path


@needs_fixtures
@pytest.mark.parametrize(
    ("changes", "detail"),
    [
        ({}, ""),
        ({"hash": "0x" + "11" * 32}, "state root 0x"),
        ({"logs": "0x" + "22" * 32}, "logs hash 0x"),
        ({"expectException": "TransactionException.INTRINSIC_GAS_TOO_LOW"}, "transaction accepted"),
    ],
)
def test_a_case_fails_on_any_mismatch(tmp_path, changes, detail):
    fixtures = _tampered_fixture(tmp_path, **changes)
    (case,) = conformance.discover(fixtures)
    result = conformance.classify(case, conformance.DEFAULT_VM, fixtures)
    assert (result.outcome, result.detail[: len(detail)]) == (FAILED if changes else PASSED, detail)


@needs_fixtures
def test_a_listed_case_that_reproduces_fails(cases, monkeypatch):
    monkeypatch.setitem(EXPECTED_DIFFERENT, ADD11, "pretend")
    (case,) = [case for case in cases if case.id == ADD11]
    result = conformance.classify(case, conformance.DEFAULT_VM, FIXTURES)
    assert result.outcome == FAILED
    assert result.detail == "listed as expected-different but reproduces the post-state"


@needs_fixtures
def test_cli_ends_with_the_summary_line(capsys):
    assert conformance.main(["--match", "stExample/", "--jobs", "1"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "39 passed, 0 failed, 0 expected-different"


def test_cli_reports_missing_fixtures(tmp_path, capsys):
    assert conformance.main(["--all", "--fixtures", str(tmp_path / "absent")]) == 2
    assert "GeneralStateTests" in capsys.readouterr().err


def test_cli_rejects_a_malformed_fixture_file(tmp_path, capsys):
    (tmp_path / "bad.json").write_text('{"t": 1}')
    assert conformance.main(["--all", "--fixtures", str(tmp_path)]) == 2
    assert "bad.json is not a GeneralStateTests fixture file" in capsys.readouterr().err

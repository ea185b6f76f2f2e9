"""All sigstore-conformance cases: kenner agrees with upstream's outcome, and with
sigstore-python (the oracle) wherever the oracle can run (not the two managed-key passes)."""

from __future__ import annotations

import pytest

from tests.support.sigstore_cases import case, case_ids, kenner_verdict, oracle_verdict

ORACLE_CANNOT = frozenset({"managed-key-happy-path", "managed-key-and-trusted-root"})


@pytest.mark.parametrize("case_id", case_ids())
def test_kenner_agrees_with_the_conformance_outcome(case_id: str) -> None:
    found = case(case_id)
    problem = kenner_verdict(found)
    if found.expect_pass:
        assert problem is None
    else:
        assert problem, "a _fail case verified"
        assert len(problem) <= 400  # a denial quotes bounded text


@pytest.mark.parametrize("case_id", sorted(set(case_ids()) - ORACLE_CANNOT))
def test_sigstore_python_agrees_with_kenner(case_id: str) -> None:
    found = case(case_id)
    assert (oracle_verdict(found) is None) == (kenner_verdict(found) is None)

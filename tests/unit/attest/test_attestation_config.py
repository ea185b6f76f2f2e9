"""``with.attestations`` in configuration: what loads, and each problem at its key and line."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kenner.config.errors import ConfigError
from kenner.config.load import load_config
from tests.support.cosign_signing import new_key, public_pem

KEY = "\n".join("        " + line for line in public_pem(new_key()).splitlines())
HEAD = f"""validators:
- name: cosign
  type: cosign
  trustRoots:
  - name: ci
    key: |
{KEY}
  - name: scanner
    key: |
{KEY}
- name: allow
  type: static
  approve: true
policy:
- pattern: "registry.example/*:*"
  validator: cosign
  with:
    trustRoot: ci
    verifyInTransparencyLog: false
    attestations:
"""
OFFSET = HEAD.count("\n")  # the line of the first attestation entry is OFFSET + 1


def _problems(entries: str, head: str = HEAD) -> list[tuple[int | None, str, str]]:
    with pytest.raises(ConfigError) as info:
        load_config(head + entries)
    return [(p.line and p.line - OFFSET, p.path, p.message) for p in info.value.problems]


def test_an_attestation_policy_loads() -> None:
    config = load_config(
        HEAD
        + """\
    - predicateType: https://slsa.dev/provenance/v1
      trustRoot: ci
      policy:
      - path: /predicate/runDetails/builder/id
        prefix: https://github.com/my-org/
      - path: /predicate/runDetails/metadata/startedOn
        maxAge: 30d
      - path: /predicate/runDetails/metadata/finishedOn
        greaterThan: 2026-01-01T00:00:00Z
    - predicateType: https://cosign.sigstore.dev/attestation/vuln/v1
      trustRoot: "*"
      threshold: 1
      policy: []
"""
    )
    slsa, scan = config.policy[0].options.attestations
    assert (slsa.predicate_type, slsa.trust_root, slsa.threshold) == (
        "https://slsa.dev/provenance/v1",
        "ci",
        None,
    )
    assert [c.operator for c in slsa.policy] == ["prefix", "maxAge", "greaterThan"]
    assert slsa.policy[1].operand == timedelta(days=30)
    assert slsa.policy[0].tokens == ("predicate", "runDetails", "builder", "id")
    assert (scan.trust_root, scan.threshold, scan.policy) == ("*", 1, ())


def test_condition_problems_name_the_key_and_line() -> None:
    entries = """\
    - predicateType: https://slsa.dev/provenance/v1
      trustRoot: ci
      policy:
      - path: /predicate/a
        prefix: x
        equals: y
      - path: predicate/b
        equals: 1
      - path: /predicate/c
        matches: x
      - path: /predicate/d~
        exists: true
      - path: /predicate/e
        maxAge: soon
"""
    where = "policy[0].with.attestations[0].policy"
    assert _problems(entries) == [
        (
            4,
            f"{where}[0]",
            "needs exactly one operator of equals, in, prefix, glob, exists, lessThan, "
            "greaterThan, maxAge; got equals, prefix",
        ),
        (7, f"{where}[1].path", "'predicate/b' is not a JSON Pointer: it must start with '/'"),
        (
            10,
            f"{where}[2].matches",
            "unknown key 'matches' (expected one of path, equals, in, prefix, glob, exists, "
            "lessThan, greaterThan, maxAge)",
        ),
        (
            11,
            f"{where}[3].path",
            "'/predicate/d~' is not a JSON Pointer: '~' must be followed by 0 or 1",
        ),
        (
            14,
            f"{where}[4].maxAge",
            "'soon' is not a duration such as 30d, 12h or 1d12h (units w, d, h, m, s)",
        ),
    ]


def test_entry_problems_name_the_key_and_line() -> None:
    entries = """\
    - predicateType: https://slsa.dev/provenance/v1
      trustRoot: nobody
      policy: []
    - predicateType: ""
      trustRoot: "*"
      threshold: 3
      policy: []
    - trustRoot: ci
      policy: []
      extra: 1
"""
    structure = _problems(entries)
    assert structure == [
        (8, "policy[0].with.attestations[2]", "missing required key 'predicateType'"),
        (
            10,
            "policy[0].with.attestations[2].extra",
            "unknown key 'extra' (expected one of predicateType, trustRoot, policy, threshold)",
        ),
    ]
    checked = _problems(entries.split("    - trustRoot: ci")[0])
    assert checked == [
        (
            2,
            "policy[0].with.attestations[0].trustRoot",
            "trust root 'nobody' is not configured (validator 'cosign')",
        ),
        (4, "policy[0].with.attestations[1].predicateType", "must not be empty"),
        (
            6,
            "policy[0].with.attestations[1].threshold",
            "threshold 3 exceeds the 2 trust root(s) in use (validator 'cosign')",
        ),
    ]


def test_attestations_need_a_cosign_validator() -> None:
    head = HEAD.replace(
        "  validator: cosign\n  with:\n    trustRoot: ci\n    verifyInTransparencyLog: false\n",
        "  validator: allow\n  with:\n",
    )
    assert _problems("    - predicateType: x\n      trustRoot: ci\n      policy: []\n", head) == [
        (
            -2,  # the line of 'attestations:', two lines up in this shorter head
            "policy[0].with.attestations",
            "attestations are a cosign feature; validator 'allow' is not cosign",
        )
    ]

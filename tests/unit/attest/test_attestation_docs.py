"""docs/attestations.md: every YAML example loads, and its worked examples decide as it says."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from kenner.attest.policy import first_failure
from kenner.attest.statement import parse_statement
from kenner.config.load import load_config
from kenner.config.model import Config
from tests.support.attestations import statement
from tests.support.cosign_signing import new_key, public_pem

DOC = Path(__file__).resolve().parents[3] / "docs" / "attestations.md"
DIGEST = "sha256:" + "ab" * 32
NOW = datetime(2026, 12, 4, 7, tzinfo=UTC)


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", DOC.read_text(encoding="utf-8"), re.M | re.S)


def _load(policy_yaml: str) -> Config:
    roots = [{"name": name, "key": public_pem(new_key())} for name in ("ci", "scanner", "release")]
    validator = {
        "name": "cosign",
        "type": "cosign",
        "trustRoots": roots,
        "host": {"rekorPubkey": public_pem(new_key())},
    }
    document = {"validators": [validator], **yaml.safe_load(policy_yaml)}
    return load_config(yaml.safe_dump(document), "docs/attestations.md example")


def _decide(config: Config, predicate: dict[str, Any], predicate_type: str) -> list[str | None]:
    found = parse_statement(statement(DIGEST, predicate, predicate_type))
    return [
        first_failure(entry.policy, found.document, NOW)
        for entry in config.policy[0].options.attestations
        if entry.predicate_type == predicate_type
    ]


def test_every_yaml_example_loads() -> None:
    blocks = _blocks("yaml")
    assert len(blocks) == 3
    for block in blocks:
        assert _load(block).policy[0].options.attestations


def test_the_worked_examples_admit_their_predicates_and_deny_changed_ones() -> None:
    _, slsa_rule, scan_rule = (_load(block) for block in _blocks("yaml"))
    slsa, scan = (json.loads(block) for block in _blocks("json"))
    provenance = "https://slsa.dev/provenance/v1"
    vulns = "https://in-toto.io/attestation/vulns/v0.1"
    assert _decide(slsa_rule, slsa, provenance) == [None]
    assert _decide(scan_rule, scan, vulns) == [None]
    fork = json.loads(json.dumps(slsa))
    fork["buildDefinition"]["externalParameters"]["workflow"]["repository"] = (
        "https://github.com/someone/app"
    )
    assert _decide(slsa_rule, fork, provenance) == [
        "/predicate/buildDefinition/externalParameters/workflow/repository equals "
        "'https://github.com/my-org/app': got 'https://github.com/someone/app'"
    ]
    found = json.loads(json.dumps(scan))
    found["scanner"]["result"] = [{"id": "CVE-1", "severity": []}]
    assert _decide(scan_rule, found, vulns) == ["/predicate/scanner/result/0 exists false: present"]
    del found["scanner"]["result"]
    assert _decide(scan_rule, found, vulns) == ["/predicate/scanner/result exists true: missing"]

"""A validator kind's modules are loaded only when a validator of that kind is configured.

Memory is the reason (docs/architecture.md, "Memory"): asn1crypto, cbor2, coredis and the
Sigstore and Notation verifiers together take over 20 MB that a static or Notary policy never
uses. Each case runs ``kenner check-config`` (the steps of ``serve``: load, check, build the
validators) in a fresh interpreter and reads which modules it loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

# Modules that only some validator kinds (or cache.redis) need.
KIND_MODULES = frozenset(
    {
        "asn1crypto",
        "cbor2",
        "coredis",
        "nacl",
        "kenner.notation",
        "kenner.sigstore",
        "kenner.timestamp",
        "kenner.tuf.keys",
        "kenner.validators.cosign",
        "kenner.validators.notaryv1",
        "kenner.validators.notation",
    }
)

_REPORT = """\
import json, sys
from kenner.cli import main
try:
    main(["check-config", sys.argv[1]])
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def _loaded(tmp_path: Path, config: str) -> set[str]:
    """The modules of KIND_MODULES (or their submodules) that check-config loaded."""
    path = tmp_path / "kenner.yaml"
    path.write_text(config)
    done = subprocess.run(
        [sys.executable, "-c", _REPORT, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["code"] == 0, done.stderr
    return {
        kind
        for kind in KIND_MODULES
        for module in report["modules"]
        if module == kind or module.startswith(f"{kind}.")
    }


def _public_key_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem.decode("ascii")


def _block(pem: str) -> str:
    return "\n".join(f"          {line}" for line in pem.strip().splitlines())


def test_a_static_policy_loads_no_verifier(tmp_path: Path) -> None:
    config = """\
validators:
  - {name: allow, type: static, approve: true}
policy:
  - {pattern: "registry.k8s.io/*:*", validator: allow}
"""
    assert _loaded(tmp_path, config) == set()


def test_notary_v1_loads_the_tuf_verifier_only(tmp_path: Path) -> None:
    config = f"""\
validators:
  - name: notary
    type: notaryv1
    host: notary.example
    trustRoots:
      - name: default
        key: |
{_block(_public_key_pem())}
policy:
  - {{pattern: "registry.example/*:*", validator: notary}}
"""
    assert _loaded(tmp_path, config) == {"kenner.tuf.keys", "kenner.validators.notaryv1"}


@pytest.mark.parametrize("formats", ["[legacy]", "[bundle, legacy]"])
def test_keyed_cosign_loads_no_timestamp_notation_or_redis_code(
    tmp_path: Path, formats: str
) -> None:
    config = f"""\
validators:
  - name: cosign
    type: cosign
    trustRoots:
      - name: default
        key: |
{_block(_public_key_pem())}
policy:
  - pattern: "registry.example/*:*"
    validator: cosign
    with: {{signatureFormats: {formats}, verifyInTransparencyLog: false}}
"""
    loaded = _loaded(tmp_path, config)
    assert "kenner.validators.cosign" in loaded
    assert not loaded & {
        "asn1crypto",
        "cbor2",
        "coredis",
        "nacl",
        "kenner.notation",
        "kenner.timestamp",
    }


@pytest.mark.parametrize("with_tsa", [False, True])
def test_notation_loads_asn1crypto_only_for_a_tsa_root(tmp_path: Path, with_tsa: bool) -> None:
    ca = _block(trustme.CA().cert_pem.bytes().decode("ascii"))
    tsa = (
        f"""\
        tsCert: |
{_block(trustme.CA().cert_pem.bytes().decode("ascii"))}
"""
        if with_tsa
        else ""
    )
    config = f"""\
validators:
  - name: notation
    type: notation
    trustRoots:
      - name: default
        cert: |
{ca}
{tsa}policy:
  - {{pattern: "registry.example/*:*", validator: notation}}
"""
    loaded = _loaded(tmp_path, config)
    assert "kenner.validators.notation" in loaded
    assert ("asn1crypto" in loaded) is with_tsa
    assert not loaded & {"cbor2", "coredis", "nacl", "kenner.sigstore", "kenner.tuf.keys"}

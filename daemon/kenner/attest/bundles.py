"""DSSE attestations in Sigstore bundles (cosign v3 referrers) checked against trust roots.

A bundle's statement counts for a trust root when the bundle verifies for that root exactly
as a signature bundle does (``kenner.sigstore.verify.verify_bundle``: the root's key, or
keyless with the root's identity and the rule's certificate extensions; the image digest among
the statement's subjects) and its content is a DSSE envelope. The statement the policy reads
is parsed again from the envelope's payload by ``kenner.attest.statement`` (strict JSON: one
reading of the bytes for every check). Bundles with a message signature carry no statement and
are not attestations. Pure: runs in a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence

from kenner.attest.errors import StatementError
from kenner.attest.judge import Verified
from kenner.attest.statement import parse_statement
from kenner.sigstore.bundle import Bundle, DsseEnvelope, parse_bundle
from kenner.sigstore.errors import BundleError
from kenner.sigstore.identity import identity_problem
from kenner.sigstore.roots import BundleRoot, Expected, bundle_problem
from kenner.sigstore.trustroot import TrustedRoot
from kenner.sigstore.verify import TimestampCheck


def bundle_attestations(
    bundles: Sequence[bytes],
    roots: Sequence[BundleRoot],
    trusted_root: TrustedRoot,
    expected: Expected,
    check_timestamp: TimestampCheck | None = None,
) -> tuple[tuple[Verified, ...], dict[str, str]]:
    """The statements of ``bundles`` that verify for each of ``roots`` (a root may have
    several), and the first problem of each root that has none."""
    verified: list[Verified] = []
    problems: dict[str, str] = {}
    for number, data in enumerate(bundles, start=1):
        try:
            bundle = parse_bundle(data)
        except BundleError as error:
            for root in roots:
                problems.setdefault(root.name, f"bundle {number}: {error}")
            continue
        if not isinstance(bundle.content, DsseEnvelope):
            continue
        keyless: list[str | None] = []  # the keyless verdict: verified once per bundle
        for root in roots:
            if root.key is not None:
                problem = bundle_problem(bundle, root.key, trusted_root, expected, check_timestamp)
            else:
                if not keyless:
                    keyless.append(
                        bundle_problem(bundle, None, trusted_root, expected, check_timestamp)
                    )
                problem = keyless[0] or _identity(bundle, root, expected)
            if problem is None:
                try:
                    verified.append(Verified(root.name, parse_statement(bundle.content.payload)))
                    continue
                except StatementError as error:
                    problem = str(error)
            problems.setdefault(root.name, f"bundle {number}: {problem}")
    signers = {item.root for item in verified}
    return tuple(verified), {name: why for name, why in problems.items() if name not in signers}


def _identity(bundle: Bundle, root: BundleRoot, expected: Expected) -> str | None:
    assert bundle.certificate is not None  # it verified as a keyless bundle
    assert root.identity is not None  # a root without a key is keyless
    return identity_problem(bundle.certificate, root.identity, expected.extensions)

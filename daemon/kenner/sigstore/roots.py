"""Which trust roots signed an image, by the bundles attached to it.

A bundle counts for a key root when it verifies with that root's key (the bundle's key hint
is not trusted: the configured key is), and for a keyless root when it verifies as a Fulcio
bundle and its certificate names the root's identity and the rule's certificate extensions.
Each keyless bundle is verified once, whatever the number of keyless roots. Pure: runs in a
worker thread when there is much to check.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from kenner.cosign.fulcio import IdentityPolicy
from kenner.sigstore.bundle import Bundle, parse_bundle
from kenner.sigstore.errors import BundleError
from kenner.sigstore.identity import ExtensionCheck, identity_problem
from kenner.sigstore.trustroot import TrustedRoot
from kenner.sigstore.verify import TimestampCheck, Verified, verify_bundle


@attrs.frozen
class BundleRoot:
    """A trust root as bundles see it: a key, or a keyless identity."""

    name: str
    key: PublicKeyTypes | None = attrs.field(default=None, eq=False)
    identity: IdentityPolicy | None = None


@attrs.frozen
class BundleFindings:
    """Which roots the bundles prove, and why each other root is not proven."""

    signed: frozenset[str]
    problems: dict[str, str]


@attrs.frozen
class Expected:
    """What every bundle must be about and satisfy."""

    digest: str
    extensions: tuple[ExtensionCheck, ...] = ()
    require_tlog: bool = True


def signed_roots(
    bundles: Sequence[bytes],
    roots: Sequence[BundleRoot],
    trusted_root: TrustedRoot,
    expected: Expected,
    check_timestamp: TimestampCheck | None = None,
) -> BundleFindings:
    """The roots for which one of ``bundles`` verifies; the first problem of each other."""
    signed: set[str] = set()
    problems: dict[str, str] = {}
    for number, data in enumerate(bundles, start=1):
        try:
            bundle = parse_bundle(data)
        except BundleError as error:
            for root in roots:
                problems.setdefault(root.name, f"bundle {number}: {error}")
            continue
        keyless: Verified | str | None = None
        for root in roots:
            if root.name in signed:
                continue
            if root.key is not None:
                problem = bundle_problem(bundle, root.key, trusted_root, expected, check_timestamp)
            else:
                if keyless is None:
                    keyless = _keyless(bundle, trusted_root, expected, check_timestamp)
                problem = _identity_problem(keyless, root, expected)
            if problem is None:
                signed.add(root.name)
            else:
                problems.setdefault(root.name, f"bundle {number}: {problem}")
    return BundleFindings(
        frozenset(signed), {name: why for name, why in problems.items() if name not in signed}
    )


def bundle_problem(
    bundle: Bundle,
    key: PublicKeyTypes | None,
    trusted_root: TrustedRoot,
    expected: Expected,
    check_timestamp: TimestampCheck | None,
) -> str | None:
    """Why ``bundle`` does not verify with ``key`` (None: keyless, a Fulcio certificate).

    Honours ``expected.require_tlog``; shared with the attestation roots (kenner.attest).
    """
    try:
        verify_bundle(
            bundle,
            trusted_root,
            artifact_digest=expected.digest,
            key=key,
            check_timestamp=check_timestamp,
            require_tlog=expected.require_tlog,
        )
    except BundleError as error:
        return str(error)
    return None


def _keyless(
    bundle: Bundle,
    trusted_root: TrustedRoot,
    expected: Expected,
    check_timestamp: TimestampCheck | None,
) -> Verified | str:
    try:
        return verify_bundle(
            bundle, trusted_root, artifact_digest=expected.digest, check_timestamp=check_timestamp
        )
    except BundleError as error:
        return str(error)


def _identity_problem(keyless: Verified | str, root: BundleRoot, expected: Expected) -> str | None:
    if isinstance(keyless, str):
        return keyless
    assert keyless.certificate is not None
    assert root.identity is not None
    return identity_problem(keyless.certificate, root.identity, expected.extensions)

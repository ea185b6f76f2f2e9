"""Notation envelopes and identities from hostile input: the module's error or a result.

Envelopes are random bytes, and real envelopes of the tests' own signer (JWS and COSE) with
bytes flipped, cut or inserted; verification must end in ``NotationError`` or succeed, never
raise anything else.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kenner.notation.errors import NotationError
from kenner.notation.identity import IdentityError, parse_identities
from kenner.notation.verify import Policy, TrustRoot, verify_envelope
from tests.support.notation_signing import NOW, TARGET, make_pki, sign
from tests.support.tsa import make_tsa

_PKI = make_pki()
_TSA = make_tsa()
_ROOT = TrustRoot("own", (_PKI.root,), (_TSA.root,))
_JWS = sign(_PKI, tsa=_TSA)
_COSE = sign(_PKI, media_type="application/cose", tsa=_TSA)


@st.composite
def _damaged(draw, original: bytes) -> bytes:
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        where = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip":
            data[where] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[where : where + draw(st.integers(1, 64))]
        else:
            data[where:where] = draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


def _verify(media_type: str, raw: bytes) -> None:
    try:
        verify_envelope(media_type, raw, target=TARGET, root=_ROOT, policy=Policy(), now=NOW)
    except NotationError:
        return


_SETTINGS = settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)


@_SETTINGS
@given(st.one_of(st.binary(max_size=512), _damaged(_JWS)))
def test_jws_envelopes_raise_only_notation_errors(raw):
    _verify("application/jose+json", raw)


@_SETTINGS
@given(st.one_of(st.binary(max_size=512), _damaged(_COSE)))
def test_cose_envelopes_raise_only_notation_errors(raw):
    _verify("application/cose", raw)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=80), max_size=3))
def test_identities_raise_only_identity_errors(values):
    try:
        parse_identities([f"x509.subject: {value}" for value in values])
    except IdentityError:
        return

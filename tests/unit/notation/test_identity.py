"""x509.subject trusted identities: parsing, escaping, overlap and matching."""

from __future__ import annotations

import pytest

from kenner.notation.identity import IdentityError, parse_identities, parse_identity
from tests.support.notation_signing import subject


def test_star_and_empty_trust_any_identity():
    assert parse_identities(["*"]).trusts(subject("anyone"))
    assert parse_identities([]).trusts(subject("anyone"))


def test_an_identity_matches_a_subset_of_the_subject():
    identity = parse_identity("x509.subject: C=US, ST=WA, O=wabbit-networks.io")
    assert identity.matches(subject("Leaf"))
    assert not parse_identity("x509.subject: C=US, ST=WA, O=acme").matches(subject("Leaf"))
    assert not parse_identity("x509.subject: C=US,ST=WA,O=wabbit-networks.io,L=X").matches(
        subject("Leaf")
    )


def test_escapes_are_part_of_the_value():
    identity = parse_identity(r"x509.subject: C=US, ST=WA, O=a\,b\;c\\d\ ")
    assert ("O", "a,b;c\\d ") in identity.rdns


@pytest.mark.parametrize(
    "text",
    [
        "C=US, ST=WA, O=x",  # no prefix
        "x509.subject: C=US, O=x",  # no ST
        "x509.subject: C=US, ST=WA, O=x, C=DE",  # C twice
        "x509.subject: C=US, ST=WA, O=x, FOO=y",
        "x509.subject: C=US, ST=WA, O=x, CN",
        "x509.subject: C=US, ST=WA, O=",
        "x509.subject: C=US, ST=WA, O=x\\",
        "x509.subject: C=US, ST=WA, O=x\\q",
        "x509.subject: C=US, ST=WA, O=x;y",
        "x509.subject: C=US, ST=WA, O=" + "x" * 2000,
    ],
)
def test_malformed_identities_are_refused(text):
    with pytest.raises(IdentityError):
        parse_identities([text])


def test_overlapping_identities_and_a_mixed_star_are_refused():
    with pytest.raises(IdentityError, match="overlap"):
        parse_identities(
            ["x509.subject: C=US, ST=WA, O=w, OU=org1", "x509.subject: C=US, ST=WA, O=w"]
        )
    with pytest.raises(IdentityError, match="only"):
        parse_identities(["*", "x509.subject: C=US, ST=WA, O=w"])
    both = parse_identities(["x509.subject: C=US, ST=WA, O=a", "x509.subject: C=US, ST=WA, O=b"])
    assert both.identities is not None
    assert len(both.identities) == 2

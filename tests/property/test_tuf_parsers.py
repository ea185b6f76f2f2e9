"""TUF metadata from a hostile Notary: canonical JSON against a model, parsers fail only typed.

* ``canonical_json`` is compared with a reference model written here from Notary's rules
  (Go decodes ``signed`` into a map, so a key seen twice keeps its last value; lone surrogates
  become U+FFFD; keys sort by UTF-8 bytes; only ``"`` and ``\\`` are escaped; integral numbers
  up to 2**53 print as integers, anything else is refused).
* ``parse_json`` over arbitrary bytes returns a value or raises ``CanonicalJSONError``.
* The role parsers and ``verify_repository`` over documents whose every field may have the
  wrong type, text or size raise only ``TrustError`` (or ``RootRotationNeeded``), and every
  message stays short: a message quotes at most 200 characters of its input.
"""

from __future__ import annotations

import base64
import json
import math
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from kenner.tuf.canonical import CanonicalJSONError, canonical_json, parse_json
from kenner.tuf.errors import RootRotationNeeded, TrustError
from kenner.tuf.expiry import parse_expiry
from kenner.tuf.keys import SUPPORTED_KEY_TYPES, key_id
from kenner.tuf.metadata import parse_document, parse_meta, parse_root, parse_targets
from kenner.tuf.repository import verify_repository
from tests.unit.tuf.builder import RepositoryBuilder, expiry_text, sign_document

NOW = datetime(2030, 6, 1, tzinfo=UTC)
# A message quotes at most 200 characters of each of at most two input values; repr() may write
# a character as up to 10 ("\U0010ffff"), so 2 x 2000 plus the wording bounds it. The hostile
# strings are 5000 characters long: quoting one whole breaks the bound.
MAX_MESSAGE = 4500

# --- the reference model of Notary's canonical encoder -------------------------------------


def _model_utf8(text: str) -> bytes:
    return "".join("\ufffd" if 0xD800 <= ord(char) <= 0xDFFF else char for char in text).encode()


def _model_text(text: str) -> bytes:
    return _quote(_model_utf8(text))


def _quote(utf8: bytes) -> bytes:
    return b'"' + utf8.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def model(value: object) -> bytes:
    """Notary's canonical bytes, or CanonicalJSONError where its encoder refuses."""
    if value is None or isinstance(value, bool):
        return {None: b"null", True: b"true", False: b"false"}[value]
    if isinstance(value, int | float):
        if isinstance(value, float) and not (math.isfinite(value) and value == int(value)):
            raise CanonicalJSONError("fraction")
        if abs(int(value)) > 2**53:
            raise CanonicalJSONError("too large")
        return str(int(value)).encode()
    if isinstance(value, str):
        return _model_text(value)
    if isinstance(value, list):
        return b"[" + b",".join(model(item) for item in value) + b"]"
    assert isinstance(value, dict)
    decoded: dict[bytes, object] = {}
    for key, item in value.items():  # Go's map: the last of two equal keys wins
        decoded.pop(_model_utf8(key), None)
        decoded[_model_utf8(key)] = item
    return b"{" + b",".join(_quote(k) + b":" + model(decoded[k]) for k in sorted(decoded)) + b"}"


_text = st.text(
    st.characters(codec=None) | st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
    max_size=6,
)
_numbers = (
    st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([2**53, 2**53 + 1, -(2**53), 1e300, -0.0, 2.0**53])
)
json_values = st.recursive(
    st.none() | st.booleans() | _numbers | _text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4),
    max_leaves=16,
)


def _outcome(function: Any, value: object) -> tuple[str, bytes]:
    try:
        return "ok", function(value)
    except CanonicalJSONError:
        return "refused", b""


@settings(max_examples=500)
@given(json_values)
def test_canonical_json_matches_the_reference_model(value: object) -> None:
    assert _outcome(canonical_json, value) == _outcome(model, value)


@given(
    st.lists(
        st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
        min_size=2,
        max_size=3,
        unique=True,
    )
)
def test_keys_equal_after_surrogate_replacement_collapse_like_go(keys: list[str]) -> None:
    value = {key: index for index, key in enumerate(keys)}
    assert canonical_json(value) == model(value) == b'{"\xef\xbf\xbd":%d}' % (len(keys) - 1)


# --- parse_json over bytes ----------------------------------------------------------------

_hostile_bytes = st.binary(max_size=64) | st.lists(
    st.sampled_from(
        [
            b"[",
            b"]",
            b"{",
            b'"a":',
            b"1" * 4400,
            b"-",
            b"1e400",
            b"NaN",
            b"\xef\xbb\xbf",
            b'"\\ud800"',
            b'"\\udc00\\ud800"',
            b"\xed\xa0\x80",
            b"\xff",
            b",",
            b"0.5",
            b"null",
            b"[" * 3000,
        ]
    ),
    min_size=1,
    max_size=6,
).map(b"".join)


@settings(max_examples=300)
@given(_hostile_bytes)
def test_parse_json_returns_a_value_or_refuses(raw: bytes) -> None:
    try:
        value = parse_json(raw)
    except CanonicalJSONError as error:
        assert len(str(error)) <= MAX_MESSAGE  # noqa: PT017 (the error is one of several outcomes)
        return
    try:
        canonical_json(value)
    except CanonicalJSONError as error:
        assert len(str(error)) <= MAX_MESSAGE  # noqa: PT017 (the error is one of several outcomes)


# --- role documents whose every field may be wrong ----------------------------------------

_long_text = st.text(min_size=1, max_size=20).map(lambda text: (text * 5000)[:5000])
_hostile_text = _text | _long_text | st.sampled_from(["", "é", "\u0661", "A" * 44, "a=="])


def _maybe(good: Any) -> st.SearchStrategy[Any]:
    """The right value most of the time, otherwise any JSON value or hostile text."""
    right = good if isinstance(good, st.SearchStrategy) else st.just(good)
    return st.one_of(right, right, right, json_values, _hostile_text)


_b64 = st.binary(max_size=70).map(lambda raw: base64.b64encode(raw).decode())
_expires = _maybe(
    st.sampled_from(
        [expiry_text(datetime(2100, 1, 1, tzinfo=UTC)), "2100-01-01T00:00:00+\u0660\u0661:00"]
    )
)


@st.composite
def _keys(draw: st.DrawFn) -> dict[str, Any]:
    keys: dict[str, Any] = {}
    for _ in range(draw(st.integers(0, 3))):
        keytype = draw(st.sampled_from(SUPPORTED_KEY_TYPES) | _text)
        public = draw(_b64 | _hostile_text)
        declared = key_id(keytype, public) if draw(st.booleans()) else draw(_hostile_text)
        keys[declared] = draw(_maybe({"keytype": keytype, "keyval": {"public": public}}))
    return keys


def _role_keys(ids: st.SearchStrategy[list[str]]) -> st.SearchStrategy[Any]:
    return _maybe(st.fixed_dictionaries({"keyids": _maybe(ids), "threshold": _maybe(1)}))


@st.composite
def _signed(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    signed: dict[str, Any] = {
        "_type": draw(_maybe(st.sampled_from([kind, kind.upper(), "Other"]))),
        "version": draw(_maybe(st.integers(-1, 3))),
        "expires": draw(_expires),
    }
    ids = st.lists(_hostile_text, max_size=2)
    if kind == "Root":
        signed["keys"] = draw(_maybe(_keys()))
        names = st.sampled_from(["root", "timestamp", "snapshot", "targets"]) | _hostile_text
        signed["roles"] = draw(_maybe(st.dictionaries(names, _role_keys(ids), max_size=5)))
    elif kind == "Targets":
        entry = st.fixed_dictionaries(
            {"length": _maybe(st.integers(0, 9)), "hashes": _maybe({"sha256": draw(_b64)})}
        )
        signed["targets"] = draw(_maybe(st.dictionaries(_hostile_text, _maybe(entry), max_size=3)))
        role = st.fixed_dictionaries(
            {
                "name": _maybe(_hostile_text),
                "keyids": _maybe(ids),
                "threshold": _maybe(1),
                "paths": _maybe(st.lists(_hostile_text, max_size=2)),
            }
        )
        delegations = st.fixed_dictionaries(
            {"keys": _maybe(_keys()), "roles": _maybe(st.lists(_maybe(role), max_size=2))}
        )
        signed["delegations"] = draw(st.none() | _maybe(delegations))
    else:
        hashes = st.dictionaries(st.sampled_from(["sha256", "sha512", "md5"]), _maybe(_b64))
        entry = st.fixed_dictionaries({"hashes": _maybe(hashes), "length": _maybe(st.integers())})
        signed["meta"] = draw(_maybe(st.dictionaries(_hostile_text, _maybe(entry), max_size=3)))
    return signed


@st.composite
def _document(draw: st.DrawFn, kind: str) -> bytes:
    signature = st.fixed_dictionaries(
        {"keyid": _maybe(_text), "method": _maybe("ecdsa"), "sig": _maybe(_b64)}
    )
    document = {
        "signed": draw(_maybe(_signed(kind))),
        "signatures": draw(_maybe(st.lists(_maybe(signature), max_size=2))),
    }
    text = json.dumps(document, ensure_ascii=draw(st.booleans()))
    raw = text.encode("utf-8", "surrogatepass")
    cut = draw(st.none() | st.integers(0, len(raw)))
    return raw if cut is None else raw[:cut]


def _typed_only(call: Any) -> None:
    try:
        call()
    except (TrustError, RootRotationNeeded) as error:
        assert len(str(error)) <= MAX_MESSAGE, str(error)[:200]  # noqa: PT017 (the error is one of several outcomes)


_slow = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_slow
@given(_document("Root"))
def test_parse_root_raises_only_trust_errors(raw: bytes) -> None:
    _typed_only(lambda: parse_root(raw))


@_slow
@given(_document("Targets"), st.sampled_from(["targets", "targets/releases"]))
def test_parse_targets_raises_only_trust_errors(raw: bytes, role: str) -> None:
    _typed_only(lambda: parse_targets(role, raw))


@_slow
@given(_document("Snapshot"), st.sampled_from(["snapshot", "timestamp"]))
def test_parse_meta_raises_only_trust_errors(raw: bytes, role: str) -> None:
    def parse() -> None:
        parse_meta(parse_document(role, raw, role.capitalize()))

    _typed_only(parse)


@given(_hostile_text | _expires.filter(lambda value: isinstance(value, str)))
def test_expiry_is_ascii_rfc_3339_or_malformed(text: str) -> None:
    try:
        instant = parse_expiry(text, "targets")
    except TrustError as error:
        assert len(str(error)) <= MAX_MESSAGE  # noqa: PT017 (the error is one of several outcomes)
        return
    assert text.isascii(), f"{text!r} is not RFC 3339 (Go's time.Parse refuses it)"
    assert instant.tzinfo is not None


_BUILDER = RepositoryBuilder()
_BUILDER.add_target("v1", b"manifest")
_BUILT = _BUILDER.build()


@_slow
@given(st.data())
def test_a_hostile_role_signed_by_its_real_keys_is_trusted_or_typed_denied(data: st.DataObject):
    """Every field of one role document may be wrong, and the right key signs it anyway."""
    role = data.draw(st.sampled_from(["root", "timestamp", "snapshot", "targets"]))
    kind = {"root": "Root", "targets": "Targets"}.get(role, role.capitalize())
    signed = data.draw(_signed(kind))
    try:
        document = sign_document(signed, _BUILDER.keys_of(role))
    except CanonicalJSONError:
        reject()  # nobody can sign what has no canonical form; parse_* cover such documents
    files = {**_BUILT.files, role: document}
    _typed_only(lambda: verify_repository(_BUILDER.gun, files, [_BUILDER.root_key.public_key], NOW))

"""The notaryv1 validator over real TLS against a fake Notary serving tampered trust data.

Every repository is really signed (tests/unit/tuf/builder.py) and served by ``FakeNotary`` on
127.0.0.1 with a throw-away CA. One thing is broken per test; the image must be denied with a
message that names the role and the reason, the way an operator would read it in a rejection.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import attrs
import pytest
import trio

from kenner.admission.image import parse_image
from kenner.admission.verdict import Trusted, Untrusted, Verdict
from kenner.config.model import RuleOptions
from kenner.net.http import Fetcher
from kenner.tuf.limits import MAX_SNAPSHOT_BYTES, MAX_TIMESTAMP_BYTES
from tests.loopback.servers import RunningServer, serve_https
from tests.support.fake_notary import FakeNotary, notary_validator
from tests.unit.tuf.builder import RepositoryBuilder, generate_key

GUN = "registry.kenner.test/team/app"
IMAGE = f"{GUN}:v1"
NOW = datetime(2030, 6, 1, tzinfo=UTC)


@attrs.define
class Stage:
    """A fake Notary on loopback, the repository it serves, and a clock for expiry checks."""

    notary: FakeNotary
    server: RunningServer
    builder: RepositoryBuilder
    digest: str
    fetcher: Fetcher
    nursery: trio.Nursery
    clock: list[datetime]

    def now(self) -> datetime:
        return self.clock[0]

    async def answer(self, options: RuleOptions | None = None) -> Verdict:
        """A fresh validator per call (nothing cached, nothing remembered) asked about IMAGE."""
        validator = notary_validator(
            self.server.base_url,
            self.builder.root_key.pem(),
            fetcher=self.fetcher,
            nursery=self.nursery,
            now=self.now,
            cache_ttl_s=0.0,
        )
        return await validator.answer(parse_image(IMAGE), options or RuleOptions())


@pytest.fixture
async def stage() -> AsyncIterator[Stage]:
    builder = RepositoryBuilder(gun=GUN)
    builder.delegate("targets/releases", [generate_key("ecdsa")])
    digest = builder.add_target("v1", b"signed manifest", role="targets/releases")
    notary = FakeNotary(GUN)
    notary.publish(builder.build())
    async with (
        serve_https(notary) as server,
        Fetcher(ca_pem=server.ca_pem) as fetcher,
        trio.open_nursery() as nursery,
    ):
        yield Stage(notary, server, builder, digest, fetcher, nursery, [NOW])
        nursery.cancel_scope.cancel()


def denial(verdict: Verdict) -> str:
    assert isinstance(verdict, Untrusted), verdict
    return verdict.reason


def flip_one_signed_byte(raw: bytes) -> bytes:
    """``raw`` with one digit of the signed ``expires`` fraction changed.

    The change keeps the document valid JSON and the expiry practically the same (nanoseconds),
    so only the signature and the hashes over these bytes can notice it.
    """
    signed_at = raw.index(b'"signed":')
    fraction = raw.index(b".", raw.index(b'"expires":"', signed_at)) + 1
    digit = raw[fraction] - ord("0")
    tampered = raw[:fraction] + str((digit + 1) % 10).encode() + raw[fraction + 1 :]
    json.loads(tampered)
    return tampered


async def test_the_untampered_repository_is_trusted(stage: Stage) -> None:
    assert await stage.answer() == Trusted(stage.digest)
    roles = {"root", "timestamp", "snapshot", "targets", "targets/releases"}
    assert {request.role for request in stage.notary.requests} == roles


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("root", "bad_signature: root.json signature by the pinned root key does not verify"),
        ("timestamp", "bad_signature: timestamp has 1 invalid signature(s)"),
        # The timestamp's hash of the snapshot is checked before the snapshot's signature.
        (
            "snapshot",
            "hash_mismatch: snapshot sha256 does not match the hash recorded in timestamp",
        ),
        ("targets", "hash_mismatch: targets sha256 does not match the hash recorded in snapshot"),
        (
            "targets/releases",
            "hash_mismatch: targets/releases sha256 does not match the hash recorded in snapshot",
        ),
    ],
)
async def test_one_flipped_byte_in_any_role_is_denied(
    stage: Stage, role: str, expected: str
) -> None:
    stage.notary.files[role] = flip_one_signed_byte(stage.notary.files[role])
    message = denial(await stage.answer())
    assert message.startswith(expected), message
    # A broken hash chain may be a publish racing the fetch, so that load is tried once more;
    # a bad signature is final at once.
    assert stage.notary.fetches(role) == (2 if expected.startswith("hash_mismatch") else 1)


async def test_an_expired_timestamp_is_denied_naming_it(stage: Stage) -> None:
    stage.builder.expires["timestamp"] = NOW + timedelta(days=14)
    stage.notary.publish(stage.builder.build())
    assert await stage.answer() == Trusted(stage.digest)

    stage.clock[0] = NOW + timedelta(days=14, seconds=1)
    message = denial(await stage.answer())
    assert message.startswith("expired: timestamp"), message
    assert "2030-06-15" in message  # the expiry an operator can look up


async def test_an_older_snapshot_after_a_newer_one_is_a_rollback(stage: Stage) -> None:
    validator = notary_validator(
        stage.server.base_url,
        stage.builder.root_key.pem(),
        fetcher=stage.fetcher,
        nursery=stage.nursery,
        now=stage.now,
        cache_ttl_s=0.0,  # every validation fetches, so the guard sees every version served
    )
    image = parse_image(IMAGE)
    stage.builder.versions.update(timestamp=2, snapshot=2)
    stage.notary.publish(stage.builder.build())
    assert await validator.answer(image, RuleOptions()) == Trusted(stage.digest)

    # Validly signed and unexpired, but older: a fresh timestamp vouching for snapshot 1.
    stage.builder.versions.update(timestamp=3, snapshot=1)
    stage.notary.publish(stage.builder.build())
    message = denial(await validator.answer(image, RuleOptions()))
    assert message.startswith("rollback: snapshot of registry.kenner.test/team/app"), message
    assert "version 1, but version 2 was verified before" in message
    # A validator without that memory accepts the very same data: the denial is the guard's.
    assert await stage.answer() == Trusted(stage.digest)


async def test_a_missing_timestamp_is_denied_naming_it(stage: Stage) -> None:
    stage.notary.statuses["timestamp"] = 404
    message = denial(await stage.answer())
    assert message.startswith("no_trust_data: timestamp.json of registry.kenner.test/team/app")


async def test_a_server_error_is_denied_as_unavailable_naming_the_role(stage: Stage) -> None:
    stage.notary.statuses["snapshot"] = 500
    message = denial(await stage.answer())
    assert message.startswith("trust data unavailable: "), message
    assert message.endswith(f"/v2/{GUN}/_trust/tuf/snapshot.json: unexpected HTTP status 500")


@pytest.mark.parametrize("declare_length", [True, False], ids=["content-length", "chunked"])
@pytest.mark.parametrize(
    ("role", "cap"), [("timestamp", MAX_TIMESTAMP_BYTES), ("snapshot", MAX_SNAPSHOT_BYTES)]
)
async def test_a_role_larger_than_its_cap_is_refused(
    stage: Stage, role: str, cap: int, declare_length: bool
) -> None:
    stage.notary.declare_length = declare_length
    stage.notary.files[role] = b" " * (cap + 1)
    message = denial(await stage.answer())
    url = f"{stage.server.base_url}/v2/{GUN}/_trust/tuf/{role}.json"
    size = f" ({cap + 1} bytes)" if declare_length else ""
    assert message == f"trust data unavailable: {url}: the body{size} exceeds the {cap}-byte cap"

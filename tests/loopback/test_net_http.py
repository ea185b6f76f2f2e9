"""Fetcher against real HTTPS servers on 127.0.0.1 (hypercorn + trustme certificates)."""

from __future__ import annotations

import gzip
import time

import pytest
import trio
import trustme

import kenner
from kenner.net.clients import CaBundleError, HttpSettings
from kenner.net.errors import AuthError, HttpStatusError, NotFound, TooLarge, TransportError
from kenner.net.http import ERROR_BODY_BYTES, Fetcher, Fetchers
from tests.loopback.servers import Request, Response, RoutedApp, respond, serve_https

UNTRUSTED = "TLS verification failed: unable to get local issuer certificate"


async def hang(request: Request) -> Response:
    await trio.sleep_forever()
    raise AssertionError("unreachable")


async def test_200_returns_status_headers_and_body() -> None:
    app = RoutedApp(
        {"/root.json": respond(200, b'{"signed": {}}', content_type="application/json")}
    )
    async with serve_https(app) as server, Fetcher(ca_pem=server.ca_pem) as fetcher:
        result = await fetcher.get(
            server.url("/root.json"), max_bytes=1000, headers={"X-Probe": "yes"}
        )
    assert result.status == 200
    assert result.body == b'{"signed": {}}'
    assert result.header("Content-Type") == "application/json"
    assert result.url == server.url("/root.json")
    sent = app.requests_to("/root.json")[0].headers
    assert (sent["x-probe"], sent["user-agent"]) == ("yes", f"kenner/{kenner.__version__}")


async def test_404_is_not_found_naming_the_url() -> None:
    async with serve_https(RoutedApp({})) as server, Fetcher(ca_pem=server.ca_pem) as fetcher:
        with pytest.raises(NotFound) as caught:
            await fetcher.get(server.url("/missing.json"), max_bytes=1000)
    assert str(caught.value) == f"{server.url('/missing.json')}: not found (HTTP 404)"


@pytest.mark.parametrize(
    ("status", "error"), [(500, HttpStatusError), (503, HttpStatusError), (401, AuthError)]
)
async def test_other_statuses_are_typed_errors(status: int, error: type[Exception]) -> None:
    app = RoutedApp({"/x": respond(status)})
    async with serve_https(app) as server, Fetcher(ca_pem=server.ca_pem) as fetcher:
        with pytest.raises(error, match=str(status)):
            await fetcher.get(server.url("/x"), max_bytes=1000)
        result = await fetcher.get_any_status(server.url("/x"), max_bytes=1000)
    assert result.status == status


@pytest.mark.parametrize("declare_length", [True, False])
async def test_body_over_the_cap_is_too_large_and_the_server_keeps_serving(
    declare_length: bool,
) -> None:
    big = b"x" * 200_000
    headers = {"content_length": str(len(big))} if declare_length else {}
    app = RoutedApp({"/big": respond(200, big, **headers), "/small": respond(200, b"ok")})
    async with serve_https(app) as server, Fetcher(ca_pem=server.ca_pem) as fetcher:
        with pytest.raises(TooLarge) as caught:
            await fetcher.get(server.url("/big"), max_bytes=1024)
        assert (await fetcher.get(server.url("/small"), max_bytes=1024)).body == b"ok"
        assert (await fetcher.get(server.url("/big"), max_bytes=len(big))).body == big
    assert "1024-byte cap" in str(caught.value)
    assert server.url("/big") in str(caught.value)


async def test_the_cap_counts_decompressed_bytes() -> None:
    inflated = b"\0" * 100_000
    app = RoutedApp({"/gz": respond(200, gzip.compress(inflated), content_encoding="gzip")})
    async with serve_https(app) as server, Fetcher(ca_pem=server.ca_pem) as fetcher:
        with pytest.raises(TooLarge):
            await fetcher.get(server.url("/gz"), max_bytes=10_000)
        assert (await fetcher.get(server.url("/gz"), max_bytes=100_000)).body == inflated


async def test_a_certificate_from_another_ca_is_refused() -> None:
    app = RoutedApp({"/x": respond(200, b"secret")})
    async with serve_https(app) as server:
        other_ca = trustme.CA().cert_pem.bytes().decode()
        async with Fetcher(ca_pem=other_ca) as fetcher:
            with pytest.raises(TransportError, match=UNTRUSTED):
                await fetcher.get(server.url("/x"), max_bytes=1000)
        # The default trusts the system CAs only, which never issued the test certificate.
        async with Fetcher() as fetcher:
            with pytest.raises(TransportError, match=UNTRUSTED):
                await fetcher.get(server.url("/x"), max_bytes=1000)
    assert app.requests == []


async def test_the_callers_deadline_cuts_off_a_hanging_server() -> None:
    app = RoutedApp({"/hang": hang})
    async with serve_https(app) as server, Fetcher(ca_pem=server.ca_pem) as fetcher:
        started = time.monotonic()
        with trio.move_on_after(0.3) as scope:
            await fetcher.get(server.url("/hang"), max_bytes=1000)
        elapsed = time.monotonic() - started
    assert scope.cancelled_caught
    assert 0.3 <= elapsed < 2.0


async def test_the_stall_backstop_fails_a_hanging_server_as_transport_error() -> None:
    async with serve_https(RoutedApp({"/hang": hang})) as server:
        settings = HttpSettings(stall_timeout_s=0.2)
        async with Fetcher(ca_pem=server.ca_pem, settings=settings) as fetcher:
            with pytest.raises(TransportError, match="reading stalled past the backstop"):
                await fetcher.get(server.url("/hang"), max_bytes=1000)


async def test_a_closed_port_is_a_transport_error() -> None:
    async with serve_https(RoutedApp({})) as server:
        url, ca_pem = server.url("/x"), server.ca_pem
    async with Fetcher(ca_pem=ca_pem) as fetcher:
        with pytest.raises(TransportError, match="could not connect"):
            await fetcher.get(url, max_bytes=1000)


async def test_redirects_are_followed_over_https_only() -> None:
    app = RoutedApp({"/final": respond(200, b"here")})
    async with serve_https(app) as server, Fetcher(ca_pem=server.ca_pem) as fetcher:
        app.routes["/moved"] = respond(302, location=server.url("/final"))
        app.routes["/downgrade"] = respond(302, location=f"http://127.0.0.1:{server.port}/final")
        result = await fetcher.get(server.url("/moved"), max_bytes=100)
        assert (result.body, result.url) == (b"here", server.url("/final"))
        with pytest.raises(TransportError, match="refusing to follow a redirect to plain http"):
            await fetcher.get(server.url("/downgrade"), max_bytes=100)
    assert len(app.requests_to("/final")) == 1


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:1/x", "only https URLs are fetched"),
        ("https://user:hunter2@127.0.0.1:1/x", "credentials inside URLs are refused"),
    ],
)
async def test_unsafe_urls_are_refused_before_connecting(url: str, reason: str) -> None:
    async with Fetcher() as fetcher:
        with pytest.raises(TransportError, match=reason) as caught:
            await fetcher.get(url, max_bytes=100)
    assert "hunter2" not in str(caught.value)
    assert "user" not in str(caught.value)


@pytest.mark.parametrize(
    "pem", ["", "garbage", trustme.CA().issue_cert("x").private_key_pem.bytes().decode()]
)
def test_a_bundle_without_certificates_fails_at_construction(pem: str) -> None:
    # An empty bundle must not fall back to the system CAs.
    with pytest.raises(CaBundleError, match="the CA bundle is not usable PEM"):
        Fetcher(ca_pem=pem)


async def test_fetchers_share_one_fetcher_per_ca_bundle() -> None:
    app = RoutedApp({"/x": respond(200, b"ok")})
    async with serve_https(app) as server, Fetchers() as fetchers:
        fetcher = fetchers.for_ca_bundle(server.ca_pem)
        assert fetchers.for_ca_bundle(server.ca_pem) is fetcher
        assert fetchers.for_ca_bundle(None) is not fetcher
        assert (await fetcher.get(server.url("/x"), max_bytes=10)).body == b"ok"


async def test_an_invalid_header_value_is_not_quoted_in_the_error() -> None:
    app = RoutedApp({"/x": respond(200, b"ok")})
    async with serve_https(app) as server, Fetcher(ca_pem=server.ca_pem) as fetcher:
        with pytest.raises(TransportError, match="invalid header") as caught:
            await fetcher.get(
                server.url("/x"), max_bytes=10, headers={"Authorization": "Bearer top\nsecret"}
            )
    assert "secret" not in str(caught.value)
    assert caught.value.__cause__ is None
    assert app.requests == []


async def test_an_error_page_longer_than_the_cap_keeps_its_status() -> None:
    """A 404 whose page exceeds a tiny cap is NotFound, not TooLarge (the page is cut short)."""
    page = b"e" * 20_000
    app = RoutedApp({"/gone": respond(404, page)})
    async with serve_https(app) as server, Fetcher(ca_pem=server.ca_pem) as fetcher:
        with pytest.raises(NotFound):
            await fetcher.get(server.url("/gone"), max_bytes=10)
        result = await fetcher.get_any_status(server.url("/gone"), max_bytes=10)
    assert result.status == 404
    assert result.body == page[:ERROR_BODY_BYTES]

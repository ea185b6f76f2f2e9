"""Hostile review, issue 11 points 10 and 11: credentials stay with their server, and pull-secret
reads stay in the admitted object's namespace.

Point 10 runs real HTTPS servers on two loopback hosts (127.0.0.1 as the registry or Notary,
127.0.0.2 as the other host) sharing one test CA, and records what each received: a login must
reach only its own server and the token realm that server's own challenge names. Point 11 runs
kenner's real ``KubeClient`` against the FAKE Kubernetes API of ``tests/support/fake_kube.py``
and records every path it receives (decoded, as an API server routes them).
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
import trustme
import yaml

from kenner.admission.image import parse_image
from kenner.admission.review import AdmissionRequest, parse_review
from kenner.admission.verdict import Untrusted, Verdict
from kenner.config.errors import ConfigError, Problem
from kenner.config.load import load_config
from kenner.config.model import Auth, Config, CosignValidatorConfig, RuleOptions
from kenner.kube.access import ClusterAccess
from kenner.kube.client import KubeClient, KubeError
from kenner.kube.pull_secrets import pod_pull_logins
from kenner.net.auth import AuthSession, Credentials
from kenner.net.errors import AuthError
from kenner.net.http import Fetcher
from kenner.net.registry import BadContent
from kenner.oci.dockerconfig import RegistryLogin, RegistryLogins, parse_docker_config
from kenner.validators.build import build_validators, open_runtime
from kenner.validators.credentials import load_credentials
from kenner.validators.registry_access import Logins, LoginSource, RegistryAccess, load_logins
from tests.loopback.servers import (
    Request,
    Response,
    RoutedApp,
    RunningServer,
    respond,
    serve_https,
)
from tests.support.cluster_config import cluster_cosign_config
from tests.support.cosign_signing import new_key, public_pem
from tests.support.fake_kube import FakeKubeApi, pull_secret, service_account
from tests.support.reviews import admission_review, as_bytes, pod

USER, PASSWORD = "robot", "s3cr3t-login"
BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
MANIFEST = "/v2/team/app/manifests/v1"
OTHER = "127.0.0.2"  # a second loopback host: another origin for httpx and for kenner


def _host(server: RunningServer) -> str:
    return server.base_url.removeprefix("https://")


def _authorizations(app: RoutedApp) -> list[str | None]:
    return [request.headers.get("authorization") for request in app.requests]


def _basic_registry(*, redirect_to: str | None = None) -> RoutedApp:
    """A registry asking for basic credentials; with them it answers, or redirects (307)."""

    async def manifest(request: Request) -> Response:
        if request.headers.get("authorization") != BASIC:
            return Response(401, b"", (("www-authenticate", 'Basic realm="registry"'),))
        if redirect_to is not None:
            return Response(307, b"", (("location", redirect_to),))
        return Response(200, b"{}")

    return RoutedApp({MANIFEST: manifest})


def _redirecting_registry(target: str) -> RoutedApp:
    """A registry that redirects every request (as to a CDN), before any authentication."""
    return RoutedApp({MANIFEST: respond(307, b"", location=target)})


def _bearer_target(realm_path: str = "/token") -> RoutedApp:
    """Another host that answers 401 with a bearer challenge naming its own realm."""

    async def resource(request: Request) -> Response:
        realm = f"https://{request.headers['host']}{realm_path}"
        return Response(401, b"", (("www-authenticate", f'Bearer realm="{realm}"'),))

    async def token(request: Request) -> Response:
        return Response(200, b'{"token": "stolen"}')

    return RoutedApp({MANIFEST: resource, "/elsewhere": resource, realm_path: token})


@asynccontextmanager
async def _two_hosts(
    registry: RoutedApp, other: RoutedApp
) -> AsyncIterator[tuple[RunningServer, RunningServer, Fetcher]]:
    ca = trustme.CA()
    async with (
        serve_https(registry, ca=ca) as first,
        serve_https(other, ca=ca, host=OTHER) as second,
        Fetcher(ca_pem=first.ca_pem) as fetcher,
    ):
        yield first, second, fetcher


def _docker_config_logins(tmp_path: Path, key: str) -> LoginSource:
    folder = tmp_path / "regcred"
    folder.mkdir()
    auths = {key: {"username": USER, "password": PASSWORD}}
    (folder / ".dockerconfigjson").write_text(json.dumps({"auths": auths}))
    return load_logins(Auth(secret_name="regcred"), str(tmp_path), frozenset())


# --- point 10: registry and Notary credentials ------------------------------------------------


async def test_a_login_for_one_registry_is_never_sent_to_another(tmp_path: Path) -> None:
    """Issue 11 point 10: a login read for registry R (a docker config key) is not picked for
    another registry an image names, even one that asks for basic credentials; and a session
    holding R's login refuses a URL on another host before sending anything."""
    own_app, other_app = _basic_registry(), _basic_registry()
    async with _two_hosts(own_app, other_app) as (own, other, fetcher):
        access = RegistryAccess(lambda _: fetcher)
        logins = Logins(_docker_config_logins(tmp_path, _host(own)))
        own_client = access.client(_host(own), logins.login(_host(own), "team/app"))
        with pytest.raises(BadContent):  # "{}" is no manifest: enough, the GET was let in
            await own_client.manifest("team/app", "v1")
        login = logins.login(_host(other), "team/app")
        assert login is None
        with pytest.raises(AuthError, match="none are configured"):
            await access.client(_host(other), login).manifest("team/app", "v1")
        session = AuthSession(fetcher, Credentials(USER, PASSWORD, host=_host(own)))
        with pytest.raises(AuthError, match="are not sent here"):
            await session.get(other.url(MANIFEST), repository="team/app", max_bytes=1000)
    assert _authorizations(own_app) == [None, BASIC]
    assert _authorizations(other_app) == [None]


@pytest.mark.parametrize("other_host", [OTHER, "127.0.0.1"])
async def test_a_login_does_not_follow_a_redirect_to_another_origin(other_host: str) -> None:
    """Issue 11 point 10: the registry's answer to an authenticated GET redirects to another
    host (127.0.0.2) or another port of the same host: the redirected GET carries no
    Authorization (httpx drops it when scheme, host or port change; kenner sets it on the
    first request only)."""
    other_app = RoutedApp({"/elsewhere": _ok})
    ca = trustme.CA()
    async with serve_https(other_app, ca=ca, host=other_host) as other:
        own_app = _basic_registry(redirect_to=other.url("/elsewhere"))
        async with serve_https(own_app, ca=ca) as own, Fetcher(ca_pem=own.ca_pem) as fetcher:
            session = AuthSession(fetcher, Credentials(USER, PASSWORD, host=_host(own)))
            result = await session.get(own.url(MANIFEST), repository="team/app", max_bytes=99)
    assert result.url == other.url("/elsewhere")
    assert _authorizations(own_app) == [None, BASIC]
    assert _authorizations(other_app) == [None]


async def _ok(request: Request) -> Response:
    return Response(200, b"{}")


@pytest.mark.parametrize("authenticated_first", [False, True])
async def test_a_redirect_targets_challenge_gets_no_login(authenticated_first: bool) -> None:
    """Issue 11 point 10: the registry redirects to another host (at once, or once our login
    was accepted), which answers 401 with a bearer challenge naming its own realm. That
    challenge is not the registry's: kenner must not send the registry's login to that realm
    (the old code did: the realm received ``Authorization: Basic`` with the registry's
    password). It is an AuthError instead."""
    other_app = _bearer_target()
    ca = trustme.CA()
    async with serve_https(other_app, ca=ca, host=OTHER) as other:
        target = other.url("/elsewhere")
        own_app = (
            _basic_registry(redirect_to=target)
            if authenticated_first
            else _redirecting_registry(target)
        )
        async with serve_https(own_app, ca=ca) as own, Fetcher(ca_pem=own.ca_pem) as fetcher:
            session = AuthSession(fetcher, Credentials(USER, PASSWORD, host=_host(own)))
            with pytest.raises(AuthError) as caught:
                await session.get(own.url(MANIFEST), repository="team/app", max_bytes=99)
    assert other_app.requests_to("/token") == []
    assert BASIC not in _authorizations(other_app)
    assert "which asks for authentication" in str(caught.value)


async def test_a_login_is_never_sent_to_a_plain_http_realm() -> None:
    """Issue 11 point 10: a bearer challenge naming an http realm is refused before any token
    request, so the login never travels in clear text (127.0.0.2 would be that realm)."""
    realm_app = RoutedApp({"/token": _ok})
    ca = trustme.CA()
    async with serve_https(realm_app, ca=ca, host=OTHER) as realm:
        challenge = f'Bearer realm="http://{OTHER}:{realm.port}/token"'
        own_app = RoutedApp({MANIFEST: respond(401, b"", www_authenticate=challenge)})
        async with serve_https(own_app, ca=ca) as own, Fetcher(ca_pem=own.ca_pem) as fetcher:
            session = AuthSession(fetcher, Credentials(USER, PASSWORD, host=_host(own)))
            with pytest.raises(AuthError, match="refusing the non-https token realm http://"):
                await session.get(own.url(MANIFEST), repository="team/app", max_bytes=99)
    assert realm_app.requests == []


async def test_a_token_request_redirected_to_another_host_carries_no_login() -> None:
    """Issue 11 point 10: the registry's own realm (another host may be the realm, as
    auth.docker.io is Docker Hub's) gets the login; when that realm redirects the token request
    to a third host, the login does not follow."""
    thief_app = RoutedApp({"/token": _ok})
    ca = trustme.CA()
    async with serve_https(thief_app, ca=ca, host=OTHER) as thief:

        async def token(request: Request) -> Response:
            return Response(307, b"", (("location", thief.url("/token")),))

        async def manifest(request: Request) -> Response:
            realm = f"https://{request.headers['host']}/token"
            return Response(401, b"", (("www-authenticate", f'Bearer realm="{realm}"'),))

        own_app = RoutedApp({MANIFEST: manifest, "/token": token})
        async with serve_https(own_app, ca=ca) as own, Fetcher(ca_pem=own.ca_pem) as fetcher:
            session = AuthSession(fetcher, Credentials(USER, PASSWORD, host=_host(own)))
            with pytest.raises(AuthError, match="holds no token"):
                await session.get(own.url(MANIFEST), repository="team/app", max_bytes=99)
    assert own_app.requests_to("/token")[0].headers["authorization"] == BASIC
    assert _authorizations(thief_app) == [None]


async def test_notary_credentials_go_to_the_notary_and_its_realm_only(tmp_path: Path) -> None:
    """Issue 11 point 10 (Notary ``auth``): Notary credentials are scoped to the Notary host;
    when the Notary redirects to another host that challenges, they are not sent to the realm
    that host names (the old code sent them)."""
    other_app = _bearer_target()
    ca = trustme.CA()
    async with serve_https(other_app, ca=ca, host=OTHER) as other:
        own_app = _redirecting_registry(other.url("/elsewhere"))
        async with serve_https(own_app, ca=ca) as own, Fetcher(ca_pem=own.ca_pem) as fetcher:
            credentials = load_credentials(
                Auth(username=USER, password=PASSWORD), str(tmp_path), own.base_url
            )
            assert credentials is not None
            session = AuthSession(fetcher, credentials)
            with pytest.raises(AuthError) as redirected:
                await session.get(own.url(MANIFEST), repository="team/app", max_bytes=99)
            with pytest.raises(AuthError) as elsewhere:
                await session.get(other.url(MANIFEST), repository="team/app", max_bytes=99)
    assert other_app.requests_to("/token") == []
    assert BASIC not in _authorizations(other_app)
    assert "which asks for authentication" in str(redirected.value)
    assert "are not sent here" in str(elsewhere.value)
    assert credentials.covers(own.url("/v2/x/_trust/tuf/root.json"))
    assert not credentials.covers(other.url("/token"))


@pytest.mark.parametrize(
    ("key", "registry", "repository"),
    [
        ("example", "evil.example", "team/app"),
        ("evil.example", "example", "team/app"),
        ("reg.example", "reg.example.evil", "team/app"),
        ("reg.example", "reg.example:5000", "team/app"),
        ("reg.example:5000", "reg.example", "team/app"),
        ("reg.example/team", "reg.example", "teamster/app"),
        ("reg.example/team/app", "reg.example", "team/application"),
        ("https://user@reg.example/", "reg.example", "team/app"),
        ("*.example", "reg.example", "team/app"),
        ("https://index.docker.io/v1/", "quay.io", "library/nginx"),
    ],
)
def test_docker_config_keys_never_cover_another_registry_or_sibling_path(
    key: str, registry: str, repository: str
) -> None:
    """Issue 11 point 10: a docker config key covers its own registry (host and port exactly)
    and path prefix (at a '/' boundary) only."""
    config = json.dumps({"auths": {key: {"username": USER, "password": PASSWORD}}}).encode()
    assert parse_docker_config(config).for_image(registry, repository) is None


def _cosign_document(
    policy: list[str], auth: dict[str, Any], ca_pem: str | None = None
) -> dict[str, Any]:
    validator = {
        "name": "cosign",
        "type": "cosign",
        "trustRoots": [{"name": "default", "key": public_pem(new_key())}],
        "auth": auth,
    }
    if ca_pem is not None:
        validator["cert"] = ca_pem
    options = {"verifyInTransparencyLog": False}
    rules = [{"pattern": pattern, "validator": "cosign", "with": options} for pattern in policy]
    return {"validators": [validator], "policy": rules}


async def _validate(config: Config, image: str) -> Verdict:
    async with open_runtime() as runtime:
        validator = build_validators(config, runtime)["cosign"]
        return await validator.answer(parse_image(image), RuleOptions())


@pytest.mark.parametrize("scope_from", ["rule", "auth.registry", "secret files"])
async def test_a_plain_login_under_a_catch_all_rule_reaches_no_other_registry(
    scope_from: str, tmp_path: Path
) -> None:
    """Issue 11 point 10: a cosign validator's plain login (inline or as username/password
    files) is sent only to the registries of its scope (a rule naming the registry, or
    ``auth.registry``), never to another registry that a ``*:*`` rule sends to the validator
    and that asks for basic credentials (the old code sent it to any registry an image named)."""
    own_app, other_app = _basic_registry(), _basic_registry()
    async with _two_hosts(own_app, other_app) as (own, other, _):
        auth: dict[str, Any] = {"username": USER, "password": PASSWORD}
        policy = ["*:*"]
        if scope_from == "auth.registry":
            auth["registry"] = _host(own).upper()  # normalised like image hosts
        else:
            policy.append(f"{_host(own)}/team/*:*")
        if scope_from == "secret files":
            (tmp_path / "regcred").mkdir()
            (tmp_path / "regcred" / "username").write_text(USER + "\n")
            (tmp_path / "regcred" / "password").write_text(PASSWORD + "\n")
            auth = {"secretName": "regcred"}
        document = _cosign_document(policy, auth, own.ca_pem)
        document["secretsDir"] = str(tmp_path)
        config = load_config(yaml.safe_dump(document))
        own_verdict = await _validate(config, f"{_host(own)}/team/app:v1")
        other_verdict = await _validate(config, f"{_host(other)}/team/app:v1")
    assert _authorizations(own_app) == [None, BASIC]  # the login works where it belongs
    assert _authorizations(other_app) == [None]
    assert isinstance(own_verdict, Untrusted)
    assert isinstance(other_verdict, Untrusted)
    assert "asks for basic credentials; none are configured" in other_verdict.reason


@pytest.mark.parametrize(
    ("policy", "auth"),
    [
        (["*:*"], {"username": USER, "password": PASSWORD}),
        (["*.example/*", "*"], {"username": USER, "password": PASSWORD, "k8sKeychain": False}),
    ],
)
def test_a_plain_login_without_a_registry_is_refused_at_load(
    policy: list[str], auth: dict[str, Any]
) -> None:
    """Issue 11 point 10: a plain login whose validator's rules name no registry (only host
    globs) and that gives no ``auth.registry`` would go to any registry an image names: the
    config is refused, naming the key and its line (the old code loaded it)."""
    text = yaml.safe_dump(_cosign_document(policy, auth), sort_keys=False)
    with pytest.raises(ConfigError) as refused:
        load_config(text, "kenner.yaml")
    line = text.splitlines().index("    username: robot") + 1
    assert refused.value.problems == (
        Problem(
            "validators[0].auth.username",
            line,
            "a plain login needs a registry: set auth.registry or name the registry in a rule "
            "for this validator",
        ),
    )


async def test_plain_login_files_without_a_registry_are_refused_when_read(tmp_path: Path) -> None:
    """Issue 11 point 10: username/password files in ``auth.secretName`` are a plain login too;
    under a ``*:*`` rule alone the validator is not built (the old code sent them anywhere)."""
    (tmp_path / "regcred").mkdir()
    (tmp_path / "regcred" / "username").write_text(USER)
    (tmp_path / "regcred" / "password").write_text(PASSWORD)
    document = _cosign_document(["*:*"], {"secretName": "regcred"})
    document["secretsDir"] = str(tmp_path)
    config = load_config(yaml.safe_dump(document))
    async with open_runtime() as runtime:
        with pytest.raises(ConfigError, match=r"auth\.secretName 'regcred'.*needs a registry"):
            build_validators(config, runtime)


@pytest.mark.parametrize(
    ("auth", "refused_at"),
    [
        ({"secretName": "regcred"}, None),
        ({"username": USER, "password": PASSWORD, "registry": "index.docker.io"}, None),
        ({"username": USER, "password": PASSWORD}, "application.validators[0].auth.username"),
    ],
)
def test_connaisseur_layout_loads_when_its_logins_are_scoped(
    auth: dict[str, Any], refused_at: str | None
) -> None:
    """Issue 11 point 10, Connaisseur's Helm values (v3): a ``*:*`` rule with a secret still
    loads (a docker config is keyed by registry; plain login files are checked when read), and
    so does a plain login with ``auth.registry``; a plain login with no registry is refused,
    named in the source's own key path."""
    document = {
        "application": {
            "validators": [
                {
                    "name": "cosign",
                    "type": "cosign",
                    "trustRoots": [{"name": "default", "key": public_pem(new_key())}],
                    "auth": auth,
                }
            ],
            "policy": [
                {
                    "pattern": "*:*",
                    "validator": "cosign",
                    "with": {"verifyInTransparencyLog": False},
                }
            ],
        },
    }
    if refused_at is None:
        validator = load_config(yaml.safe_dump(document)).validators[0]
        assert isinstance(validator, CosignValidatorConfig)
        assert validator.auth is not None
        if validator.auth.username is not None:
            assert validator.auth.registry == "docker.io"  # index.docker.io, normalised
        return
    with pytest.raises(ConfigError) as refused:
        load_config(yaml.safe_dump(document))
    assert [problem.path for problem in refused.value.problems] == [refused_at]


def test_auth_registry_is_refused_for_notary() -> None:
    """Issue 11 point 10 (Notary ``auth``): a Notary login belongs to the Notary host alone, so
    it takes no ``auth.registry`` that could suggest another scope."""
    validator = {
        "name": "notary",
        "type": "notaryv1",
        "host": "notary.example",
        "trustRoots": [{"name": "default", "key": public_pem(new_key())}],
        "auth": {"username": USER, "password": PASSWORD, "registry": "reg.example"},
    }
    document = {"validators": [validator], "policy": [{"pattern": "*:*", "validator": "notary"}]}
    with pytest.raises(ConfigError) as refused:
        load_config(yaml.safe_dump(document))
    assert [problem.path for problem in refused.value.problems] == ["validators[0].auth.registry"]


# --- point 11: pull-secret and ServiceAccount names, namespaces ---------------------------------

NAMESPACE = "team"
ADMIN = "/api/v1/namespaces/kube-system/secrets/admin"


def _api() -> FakeKubeApi:
    """An API holding kube-system's admin secret and account, and the team's good secret."""
    api = FakeKubeApi()
    admin = {"reg.example": {"username": "cluster-admin", "password": "root"}}
    api.put(ADMIN, pull_secret("admin", "kube-system", admin))
    api.put(
        "/api/v1/namespaces/kube-system/serviceaccounts/admin",
        service_account("admin", "kube-system", ["admin"]),
    )
    team = {"reg.example": {"username": "team", "password": "team-pass"}}
    api.put(
        f"/api/v1/namespaces/{NAMESPACE}/secrets/team-cred",
        pull_secret("team-cred", NAMESPACE, team),
    )
    return api


def _request(
    pod_spec: dict[str, Any], *, namespace: str = NAMESPACE, object_namespace: str | None = None
) -> AdmissionRequest:
    obj = pod("reg.example/team/app:1", name="app", container_name="app", **pod_spec)
    if object_namespace is not None:
        obj["metadata"]["namespace"] = object_namespace
    review = admission_review(obj, uid="u-hostile", namespace=namespace, user="dev")
    return parse_review(as_bytes(review))


async def _logins(api: FakeKubeApi, request: AdmissionRequest) -> RegistryLogins | None:
    config = cluster_cosign_config(keychain=True)
    async with serve_https(api) as server:
        access = ClusterAccess(server.base_url, ca_pem=server.ca_pem, token=api.token)
        async with KubeClient(access) as kube:
            deadline = trio.current_time() + config.deadlines.request_s
            return await pod_pull_logins(request, kube, config, deadline=deadline)


def _assert_stayed_in_the_namespace(api: FakeKubeApi) -> None:
    for path, _ in api.requests:
        assert path.startswith(f"/api/v1/namespaces/{NAMESPACE}/"), path
        assert ".." not in path.split("/"), path
        assert path.count("/") == 6, path  # /api/v1/namespaces/<ns>/<resource>/<name>


def _assert_no_admin_login(logins: RegistryLogins | None) -> None:
    assert logins is not None
    assert RegistryLogin("cluster-admin", "root") not in logins.by_prefix.values()


@pytest.mark.parametrize(
    "name",
    [
        "../../kube-system/secrets/admin",
        "..%2F..%2Fkube-system%2Fsecrets%2Fadmin",
        "%2e%2e/%2e%2e/kube-system/secrets/admin",
        "%2e%2e%2F%2e%2e%2Fkube-system%2Fsecrets%2Fadmin",
        "x/../../../kube-system/secrets/admin",
        "admin?x=1",
        "admin#frag",
        "Admin",
        "a" * 254,
    ],
)
async def test_pull_secret_names_cannot_leave_the_namespace(name: str) -> None:
    """Issue 11 point 11: a Pod naming the pull secret ``../../kube-system/secrets/admin`` (or a
    percent-encoded spelling) made kenner read kube-system's admin secret with its own service
    account. Names are DNS-1123 subdomains now: the invalid one is skipped, the valid one read,
    and every path the API receives stays in the Pod's namespace."""
    api = _api()
    request = _request({"imagePullSecrets": [{"name": name}, {"name": "team-cred"}]})
    logins = await _logins(api, request)
    _assert_stayed_in_the_namespace(api)
    _assert_no_admin_login(logins)
    assert logins is not None
    assert logins.for_image("reg.example", "team/app") == RegistryLogin("team", "team-pass")


@pytest.mark.parametrize(
    "account",
    ["../../kube-system/serviceaccounts/admin", "..%2F..%2Fkube-system%2Fserviceaccounts%2Fadmin"],
)
async def test_service_account_names_cannot_leave_the_namespace(account: str) -> None:
    """Issue 11 point 11: the ServiceAccount name is a path segment too; a traversal in it read
    kube-system's account (and then named its secrets). It is skipped now."""
    api = _api()
    logins = await _logins(api, _request({"serviceAccountName": account}))
    _assert_stayed_in_the_namespace(api)
    _assert_no_admin_login(logins)


@pytest.mark.parametrize(
    "namespace", ["x/../kube-system", "kube-system/secrets/admin#", "TEAM", "a" * 64]
)
async def test_an_invalid_request_namespace_reads_nothing(namespace: str) -> None:
    """Issue 11 point 11: a review (POSTed by anyone who reaches the webhook) with a namespace
    that is not a DNS-1123 label read secrets elsewhere; now nothing is read."""
    api = _api()
    logins = await _logins(
        api, _request({"imagePullSecrets": [{"name": "admin"}]}, namespace=namespace)
    )
    assert api.requests == []
    assert logins == RegistryLogins({})


async def test_a_pod_of_another_namespace_uses_no_secrets() -> None:
    """Issue 11 point 11: a pod may only use secrets of its own namespace. An object whose
    ``metadata.namespace`` is not the request's reads no secrets at all."""
    api = _api()
    secrets = {"imagePullSecrets": [{"name": "team-cred"}]}
    logins = await _logins(api, _request(secrets, object_namespace="kube-system"))
    assert api.requests == []
    assert logins == RegistryLogins({})


async def test_the_kube_client_refuses_non_canonical_paths() -> None:
    """Issue 11 point 11 (backstop): whatever builds a path, ``get_object`` sends none with a
    ``..`` segment, an escape, a query or an empty segment; httpx would resolve the ``..``."""
    api = _api()
    async with serve_https(api) as server:
        access = ClusterAccess(server.base_url, ca_pem=server.ca_pem, token=api.token)
        async with KubeClient(access) as kube:
            for path in (
                f"/api/v1/namespaces/{NAMESPACE}/secrets/../../kube-system/secrets/admin",
                f"/api/v1/namespaces/{NAMESPACE}/secrets/%2e%2e%2F%2e%2e%2Fkube-system",
                f"/api/v1/namespaces/{NAMESPACE}/secrets/admin?x",
                "/api/v1/namespaces//secrets/admin",
                # child approval's owner path with a hostile request namespace (admission/owners.py)
                "/apis/apps/v1/namespaces/x/../kube-system/deployments/web",
                "/apis/apps/v1/namespaces/x%2F..%2Fkube-system/deployments/web",
            ):
                with pytest.raises(KubeError, match="not a canonical API path"):
                    await kube.get_object(path)
    assert api.requests == []

"""A small Docker registry token server for tests (the ``auth: token:`` flow of distribution).

A client refused by the registry with ``Bearer realm=...,service=...,scope=...`` asks the realm
``GET /token?service=S&scope=repository:NAME:pull`` (with basic credentials, if it has any)
and gets ``{"token": JWT, "expires_in": N}``. The JWT is signed with ES256 by a key whose
self-signed certificate the registry trusts (``rootcertbundle``) and carries that certificate
in its ``x5c`` header; its claims name the issuer, the service as audience, and the access
granted. Serve :meth:`TokenServer.handler` with ``tests.loopback.servers.serve_https``.
"""

from __future__ import annotations

import base64
import datetime
import json
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qs

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from tests.loopback.servers import Request, Response

TOKEN_LIFETIME_S = 300


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class TokenServer:
    """Issues pull tokens for ``service`` as ``issuer``.

    ``users`` (name -> password), when given, must authenticate with basic credentials;
    ``refuse`` answers every token request with 401, as a token server does for a wrong login.
    """

    def __init__(
        self,
        issuer: str,
        service: str,
        *,
        users: Mapping[str, str] | None = None,
        refuse: bool = False,
    ) -> None:
        self.issuer = issuer
        self.service = service
        self.users = users
        self.refuse = refuse
        self._key = ec.generate_private_key(ec.SECP256R1())
        self.certificate = _self_signed(self._key, f"{issuer} token signer")

    def write_root_bundle(self, path: Path) -> Path:
        """Write the signing certificate as the registry's ``rootcertbundle``."""
        path.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))
        return path

    async def handler(self, request: Request) -> Response:
        """The ``/token`` endpoint."""
        query = parse_qs(request.query)
        if query.get("service") != [self.service]:
            return _error(400, "unknown service")
        subject = self._authenticated(request.headers.get("authorization"))
        if self.refuse or subject is None:
            return _error(401, "authentication required")
        access = [_access(scope) for scope in query.get("scope", [])]
        token = self.token(subject, [grant for grant in access if grant is not None])
        body = {"token": token, "access_token": token, "expires_in": TOKEN_LIFETIME_S}
        return Response(200, json.dumps(body).encode(), (("content-type", "application/json"),))

    def token(self, subject: str, access: list[dict[str, object]]) -> str:
        """A signed JWT granting ``access`` to ``subject``."""
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        header = {"typ": "JWT", "alg": "ES256", "x5c": [base64.b64encode(der).decode("ascii")]}
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": now + TOKEN_LIFETIME_S,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": access,
        }
        parts = (json.dumps(header).encode(), json.dumps(claims).encode())
        signing_input = ".".join(_b64url(part) for part in parts)
        r, s = decode_dss_signature(
            self._key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        )
        # JWS wants the raw 64-byte r || s, not the DER signature cryptography returns.
        return f"{signing_input}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def _authenticated(self, authorization: str | None) -> str | None:
        if self.users is None:
            return "anonymous"
        if authorization is None or not authorization.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
        return user if self.users.get(user) == password else None


def _access(scope: str) -> dict[str, object] | None:
    kind, _, rest = scope.partition(":")
    name, _, actions = rest.rpartition(":")
    if kind != "repository" or not name:
        return None
    # A pull token only: whatever else was asked for is not granted.
    granted = [action for action in actions.split(",") if action == "pull"]
    return {"type": "repository", "name": name, "actions": granted}


def _error(status: int, message: str) -> Response:
    body = json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": message}]}).encode()
    return Response(status, body, (("content-type", "application/json"),))


def _self_signed(key: ec.EllipticCurvePrivateKey, common_name: str) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )

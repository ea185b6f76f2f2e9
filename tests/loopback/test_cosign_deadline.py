"""A registry that accepts requests and never answers is cut off at the fetch deadline."""

from __future__ import annotations

import trio
import yaml

from kenner.admission.image import parse_image
from kenner.admission.verdict import Untrusted
from kenner.config.load import load_config
from kenner.config.model import RuleOptions
from kenner.validators.build import build_validators, open_runtime
from tests.loopback.servers import Request, Response, RoutedApp, serve_https
from tests.support.cosign_signing import new_key, public_pem


async def _hang(request: Request) -> Response:
    await trio.sleep_forever()


async def test_a_hanging_registry_is_cut_off_and_the_image_denied() -> None:
    app = RoutedApp({"/v2/team/app/manifests/v1": _hang})
    async with serve_https(app) as server:
        document = {
            "validators": [
                {
                    "name": "cosign",
                    "type": "cosign",
                    "cert": server.ca_pem,
                    "trustRoots": [{"name": "default", "key": public_pem(new_key())}],
                }
            ],
            "policy": [
                {
                    "pattern": "*:*",
                    "validator": "cosign",
                    "with": {"verifyInTransparencyLog": False},
                }
            ],
            "deadlines": {"requestSeconds": 2, "fetchSeconds": 0.3},
        }
        config = load_config(yaml.safe_dump(document))
        async with open_runtime() as runtime:
            validator = build_validators(config, runtime)["cosign"]
            started = trio.current_time()
            verdict = await validator.answer(
                parse_image(f"127.0.0.1:{server.port}/team/app:v1"),
                RuleOptions(verify_in_transparency_log=False),
            )
            elapsed = trio.current_time() - started
    assert isinstance(verdict, Untrusted)
    assert verdict.reason == f"registry error: no answer from 127.0.0.1:{server.port} in time"
    assert 0.3 <= elapsed < 1.5
    assert len(app.requests_to("/v2/team/app/manifests/v1")) == 1

"""A registry that accepts connections and never answers is cut off at the fetch deadline."""

from __future__ import annotations

import functools

import trio
import yaml

from kenner.admission.image import parse_image
from kenner.admission.verdict import Untrusted
from kenner.config.load import load_config
from kenner.config.model import RuleOptions
from kenner.validators.build import build_validators, open_runtime
from tests.support.cosign_signing import new_key, public_pem


async def _silent(stream: trio.SocketStream) -> None:
    await trio.sleep_forever()  # hold the connection open, never say a word


async def test_a_hanging_registry_is_cut_off_and_the_image_denied() -> None:
    document = {
        "validators": [
            {
                "name": "cosign",
                "type": "cosign",
                "trustRoots": [{"name": "default", "key": public_pem(new_key())}],
            }
        ],
        "policy": [
            {"pattern": "*:*", "validator": "cosign", "with": {"verifyInTransparencyLog": False}}
        ],
        "deadlines": {"requestSeconds": 2, "fetchSeconds": 0.3},
    }
    config = load_config(yaml.safe_dump(document))
    async with trio.open_nursery() as nursery:
        [listener] = await nursery.start(
            functools.partial(trio.serve_tcp, _silent, 0, host="127.0.0.1")
        )
        port = listener.socket.getsockname()[1]
        async with open_runtime() as runtime:
            validator = build_validators(config, runtime)["cosign"]
            started = trio.current_time()
            verdict = await validator.validate(
                parse_image(f"127.0.0.1:{port}/team/app:v1"),
                RuleOptions(verify_in_transparency_log=False),
            )
            elapsed = trio.current_time() - started
        nursery.cancel_scope.cancel()
    assert isinstance(verdict, Untrusted)
    assert verdict.reason == f"registry error: no answer from 127.0.0.1:{port} in time"
    assert 0.3 <= elapsed < 1.5

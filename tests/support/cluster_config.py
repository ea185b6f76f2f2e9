"""A kenner configuration for tests of the cluster's pull secrets (``kubernetes.enabled``).

One cosign validator with a fresh trusted key (so no image is signed for it) serves every
image, without the transparency log; ``keychain`` turns on its ``auth.k8sKeychain``.
"""

from __future__ import annotations

from typing import Any

import yaml

from kenner.config.load import load_config
from kenner.config.model import Config
from tests.support.cosign_signing import new_key, public_pem


def cluster_cosign_config(*, keychain: bool) -> Config:
    validator: dict[str, Any] = {
        "name": "cosign",
        "type": "cosign",
        "trustRoots": [{"name": "default", "key": public_pem(new_key())}],
    }
    if keychain:
        validator["auth"] = {"k8sKeychain": True}
    document = {
        "validators": [validator],
        "policy": [
            {"pattern": "*:*", "validator": "cosign", "with": {"verifyInTransparencyLog": False}}
        ],
        "kubernetes": {"enabled": True, "apiSeconds": 2},
    }
    return load_config(yaml.safe_dump(document))

"""Push and sign every scenario of :mod:`tests.harness.scenarios` on a running test bed."""

from __future__ import annotations

from pathlib import Path

import attrs

from tests.harness import notary_keys, pki
from tests.harness.errors import HarnessError
from tests.harness.model import Case
from tests.harness.notary import PASSPHRASES, NotaryClient
from tests.harness.oci import ImageLayout
from tests.harness.registry import PushFormat, Registry, Served
from tests.harness.scenarios import ALICE, CASE_SPECS, RELEASES, REPO_PREFIX, CaseSpec

ROOT_LABELS = ("root-main", "root-other", "root-rotated")


@attrs.frozen
class RootKey:
    label: str
    public_pem: str
    private_file: Path  # encrypted with the notary root passphrase


@attrs.frozen
class DelegationKey:
    role: str
    public_file: Path  # public key PEM (releases) or self-signed certificate (alice)
    private_file: Path  # unencrypted PKCS#8


def make_root_keys(keys_dir: Path) -> dict[str, RootKey]:
    """Generate the root keys; their public halves are what controllers get pinned to."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    roots = {}
    for label in ROOT_LABELS:
        key = pki.new_ec_key()
        private = pki.write_private(
            keys_dir / f"{label}.key",
            notary_keys.encrypted_pkcs8_pem(key, PASSPHRASES["NOTARY_ROOT_PASSPHRASE"]),
        )
        public = pki.public_pem(key)
        (keys_dir / f"{label}.pem").write_text(public)
        roots[label] = RootKey(label, public, private)
    return roots


def make_delegation_keys(keys_dir: Path) -> dict[str, DelegationKey]:
    """targets/releases: plain ECDSA key (``docker trust key generate`` style);
    targets/alice: ECDSA key with a self-signed x509 certificate (keytype ecdsa-x509)."""
    keys = {}
    for role, with_cert in ((RELEASES, False), (ALICE, True)):
        name = role.removeprefix("targets/")
        key = pki.new_ec_key()
        private = pki.write_private(keys_dir / f"delegation-{name}.key", pki.private_pkcs8_pem(key))
        if with_cert:
            public = keys_dir / f"delegation-{name}.crt"
            public.write_bytes(pki.self_signed_cert_pem(key, name))
        else:
            public = keys_dir / f"delegation-{name}.pub.pem"
            public.write_text(pki.public_pem(key))
        keys[role] = DelegationKey(role, public, private)
    return keys


class ScenarioBuilder:
    """Pushes images and signs them; records what the registry serves per image key."""

    def __init__(
        self,
        registry: Registry,
        notary: NotaryClient,
        layout: ImageLayout,
        roots: dict[str, RootKey],
        delegation_keys: dict[str, DelegationKey],
    ) -> None:
        self.registry = registry
        self.notary = notary
        self.layout = layout
        self.roots = roots
        self.delegation_keys = delegation_keys
        self.served: dict[str, Served] = {}

    def gun(self, scenario: str) -> str:
        return f"{self.registry.host}/{REPO_PREFIX}/{scenario}"

    def push(self, scenario: str, image: str, tag: str, fmt: PushFormat = "v2s2") -> Served:
        name = f"{scenario}-{image}"
        self.layout.add_image(name)
        served = self.registry.push(self.layout, name, f"{REPO_PREFIX}/{scenario}", tag, fmt)
        self.served[f"{scenario}/{image}"] = served
        return served

    def push_index(self, scenario: str, image: str, tag: str, fmt: PushFormat) -> Served:
        name = f"{scenario}-{image}"
        self.layout.add_index(name)
        served = self.registry.push(self.layout, name, f"{REPO_PREFIX}/{scenario}", tag, fmt)
        self.served[f"{scenario}/{image}"] = served
        for platform in served.platforms:
            self.served[f"{scenario}/{image}@{platform.platform}"] = self.registry.resolve(
                f"{REPO_PREFIX}/{scenario}", platform.digest
            )
        return served

    def sign(self, gun: str, tag: str, served: Served, *roles: str, publish: bool = False) -> None:
        self.notary.add_hash(gun, tag, served.digest, served.size, roles, publish=publish)

    def build_all(self) -> dict[str, Served]:
        main = self.roots["root-main"].private_file
        n = self.notary
        for role, key in self.delegation_keys.items():
            n.import_delegation_key(key.private_file, role)
        releases_public = self.delegation_keys[RELEASES].public_file
        alice_public = self.delegation_keys[ALICE].public_file

        gun = self.gun("signed")
        v1 = self.push("signed", "v1", "v1", "v2s2")
        v2 = self.push("signed", "v2", "v2", "oci")
        self.push("signed", "unsigned-tag", "unsigned-tag", "v2s2")
        n.init(gun, main)
        self.sign(gun, "v1", v1)
        self.sign(gun, "v2", v2)
        n.publish(gun)

        self.push("unsigned", "v1", "v1")

        gun = self.gun("moved-tag")
        a = self.push("moved-tag", "A", "v1")
        n.init(gun, main)
        self.sign(gun, "v1", a, publish=True)
        self.push("moved-tag", "B", "v1")  # the registry's v1 now points at B

        gun = self.gun("delegated")
        images = {
            tag: self.push("delegated", tag, tag) for tag in ("both", "releases-only", "alice-only")
        }
        conflict_x = self.push("delegated", "conflict-X", "conflict")
        conflict_y = self.push("delegated", "conflict-Y", "conflict")  # the registry serves Y
        n.init(gun, main)
        n.add_delegation(gun, RELEASES, releases_public)
        n.add_delegation(gun, ALICE, alice_public)
        n.publish(gun)
        self.sign(gun, "both", images["both"], RELEASES, ALICE)
        self.sign(gun, "releases-only", images["releases-only"], RELEASES)
        self.sign(gun, "alice-only", images["alice-only"], ALICE)
        self.sign(gun, "conflict", conflict_x, ALICE)
        self.sign(gun, "conflict", conflict_y, RELEASES)
        n.publish(gun)

        gun = self.gun("other-root")
        other = self.push("other-root", "v1", "v1")
        # notary's default: the snapshot key stays with the client in this repo.
        n.init(gun, self.roots["root-other"].private_file, server_managed_snapshot=False)
        self.sign(gun, "v1", other, publish=True)

        gun = self.gun("root-rotated")
        r1 = self.push("root-rotated", "v1", "v1")
        r2 = self.push("root-rotated", "v2", "v2")
        n.init(gun, main)
        self.sign(gun, "v1", r1, publish=True)
        n.rotate_root(gun, self.roots["root-rotated"].private_file)
        self.sign(gun, "v2", r2, publish=True)

        gun = self.gun("multi-arch")
        docker_list = self.push_index("multi-arch", "v1", "v1", "v2s2")
        oci_index = self.push_index("multi-arch", "v2", "v2", "oci")
        n.init(gun, main)
        self.sign(gun, "v1", docker_list)
        self.sign(gun, "v2", oci_index)
        n.publish(gun)

        gun = self.gun("delegation-unused")
        unused = self.push("delegation-unused", "v1", "v1")
        n.init(gun, main)
        n.add_delegation(gun, RELEASES, releases_public)
        self.sign(gun, "v1", unused)  # with the targets key: releases never signs anything
        n.publish(gun)
        return self.served


def resolve_cases(
    registry_host: str, served: dict[str, Served], roots: dict[str, str]
) -> tuple[Case, ...]:
    """Turn the static case table into concrete cases with references and digests."""

    def digest_of(image_key: str) -> str:
        try:
            return served[image_key].digest
        except KeyError:
            raise HarnessError(
                f"case table names image {image_key!r}, which was not pushed"
            ) from None

    def case(spec: CaseSpec) -> Case:
        repository = f"{registry_host}/{REPO_PREFIX}/{spec.scenario}"
        if spec.tag is not None:
            image = f"{repository}:{spec.tag}"
        elif spec.by_digest_of is not None:
            image = f"{repository}@{digest_of(spec.by_digest_of)}"
        else:
            raise HarnessError(f"case {spec.id} has neither a tag nor a digest")
        signed = spec.outcome.signed_image
        return Case(
            id=spec.id,
            scenario=spec.scenario,
            gun=repository,
            image=image,
            root_key=spec.policy.root_key,
            root_key_pem=roots[spec.policy.root_key],
            required_delegations=spec.policy.required_delegations,
            verdict=spec.outcome.verdict,
            reason=spec.outcome.reason,
            digest=digest_of(signed) if signed is not None else None,
            registry_digest=digest_of(spec.served_image),
        )

    return tuple(case(spec) for spec in CASE_SPECS)

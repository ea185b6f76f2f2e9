"""``kenner verify``: images through the configured policy and validators, as an admission would.

Rules:

- Each image is decided by the admission pipeline itself (``decide_request``): a Pod CREATE
  whose one container runs the image, with the request's deadline (``deadlines.requestSeconds``)
  from its start. The rule, the validator, the verdict, the signed digest and the reason are
  the ones the webhook would log for that Pod; ``admitted`` is the webhook's answer, so
  detection mode and ``enforce: warn`` admit a failing image as they would.
- The images are decided concurrently and reported in the order given.
- Nothing is changed anywhere: no answer is sent, no alert, no metric, no decision log; the
  Kubernetes API is not read (``Snapshot.kube`` is None), so a pod's pull secrets
  (``auth.k8sKeychain``) add no login and owner approval skips nothing; the shared Redis state
  (``cache.redis``) is left out (the command builds its validators without it,
  ``kenner.cli._offline_snapshot``): no verdict or rollback version is read from it or written
  to it, every image is validated against its sources. ``verify_notes`` says so when the
  configuration uses them.
- A report quotes the image as given, clipped to 200 characters.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import trio

from kenner.admission.decision import Decision
from kenner.admission.image import ImageRefError, parse_image
from kenner.admission.pull_secrets import uses_keychain
from kenner.admission.review import AdmissionRequest
from kenner.app.pipeline import decide_request
from kenner.app.state import Snapshot
from kenner.config.model import Config
from kenner.quoting import clip

NAMESPACE = "default"  # the namespace of the Pod asked about (nothing depends on it here)
KEYCHAIN_NOTE = (
    "auth.k8sKeychain: verify reads no Kubernetes API, so pod pull secrets add no login; "
    "only the configured credentials are used"
)
REDIS_NOTE = (
    "cache.redis: verify neither reads nor writes the shared Redis state; every image is "
    "validated against its sources, and a newer trust-data version only another replica has "
    "seen is not known here"
)


@attrs.frozen
class ImageReport:
    """What an admission would say about one image."""

    image: str  # as given, clipped
    reference: str | None  # normalised, when it parses
    rule: str | None
    validator: str | None
    validator_type: str | None
    verdict: str  # "allow", "deny", "warn" (admitted with a warning)
    admitted: bool
    digest: str | None
    reason: str

    def as_json(self) -> dict[str, object]:
        return {
            "image": self.image,
            "reference": self.reference,
            "rule": self.rule,
            "validator": self.validator,
            "validatorType": self.validator_type,
            "verdict": self.verdict,
            "admitted": self.admitted,
            "digest": self.digest,
            "reason": self.reason,
        }


@attrs.frozen
class VerifyReport:
    images: tuple[ImageReport, ...]
    notes: tuple[str, ...] = ()

    @property
    def admitted(self) -> bool:
        return all(image.admitted for image in self.images)

    def as_json(self) -> dict[str, object]:
        return {
            "admitted": self.admitted,
            "images": [image.as_json() for image in self.images],
            "notes": list(self.notes),
        }


def verify_notes(config: Config) -> tuple[str, ...]:
    """What ``kenner verify`` cannot do as the webhook does with ``config``, for the report."""
    notes = []
    if config.cache.redis is not None:
        notes.append(REDIS_NOTE)
    if uses_keychain(config):
        notes.append(KEYCHAIN_NOTE)
    return tuple(notes)


async def verify_images(
    images: Sequence[str], snapshot: Snapshot, notes: Sequence[str] = ()
) -> VerifyReport:
    """Decide every image of ``images`` concurrently under ``snapshot``, as admissions would;
    ``notes`` (from ``verify_notes``) go into the report."""
    decisions: list[Decision | None] = [None] * len(images)

    async def decide_one(index: int) -> None:
        request = pod_request(images[index], index)
        deadline = trio.current_time() + snapshot.config.deadlines.request_s
        decisions[index] = await decide_request(request, snapshot, deadline=deadline)

    async with trio.open_nursery() as nursery:
        for index in range(len(images)):
            nursery.start_soon(decide_one, index)
    reports = []
    for image, decision in zip(images, decisions, strict=True):
        assert decision is not None  # the nursery waited for every task
        reports.append(_report(image, decision, snapshot))
    return VerifyReport(tuple(reports), tuple(notes))


def pod_request(image: str, index: int) -> AdmissionRequest:
    """A Pod CREATE whose one container runs ``image``."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "kenner-verify", "namespace": NAMESPACE},
        "spec": {"containers": [{"name": "verify", "image": image}]},
    }
    return AdmissionRequest(
        api_version="admission.k8s.io/v1",
        uid=f"kenner-verify-{index}",
        kind="Pod",
        group_version="v1",
        sub_resource="",
        operation="CREATE",
        namespace=NAMESPACE,
        name="kenner-verify",
        user="kenner verify",
        object=pod,
        old_object=None,
    )


def _report(image: str, decision: Decision, snapshot: Snapshot) -> ImageReport:
    response = decision.response
    if not decision.outcomes:  # refused before any image was read (an empty reference)
        reason = response.message or "; ".join(response.warnings) or "no verdict"
        verdict = "allow" if response.allowed else "deny"
        return ImageReport(
            clip(image),
            _normalised(image),
            None,
            None,
            None,
            verdict,
            response.allowed,
            None,
            reason,
        )
    (outcome,) = decision.outcomes  # one container, one image
    types = {validator.name: validator.type for validator in snapshot.config.validators}
    reason = outcome.reason
    if response.allowed and outcome.verdict == "deny":
        reason += " (detection mode: admitted with a warning)"
    return ImageReport(
        image=clip(image),
        reference=_normalised(image),
        rule=outcome.rule,
        validator=outcome.validator,
        validator_type=types.get(outcome.validator) if outcome.validator else None,
        verdict=outcome.verdict,
        admitted=response.allowed,
        digest=outcome.digest,
        reason=reason,
    )


def _normalised(image: str) -> str | None:
    try:
        return str(parse_image(image))
    except ImageRefError:
        return None


def render_text(report: VerifyReport) -> str:
    """The report for a person: a block per image, then the notes and a summary line."""
    blocks = []
    for image in report.images:
        validator = image.validator or "-"
        if image.validator_type:
            validator += f" ({image.validator_type})"
        admitted = "admitted" if image.admitted else "DENIED"
        shown = image.image if image.image.isprintable() and image.image else repr(image.image)
        blocks.append(
            f"{shown}: {admitted}\n"
            f"  reference: {image.reference or '-'}\n"
            f"  rule:      {image.rule or '-'}\n"
            f"  validator: {validator}\n"
            f"  verdict:   {image.verdict}\n"
            f"  digest:    {image.digest or '-'}\n"
            f"  why:       {image.reason}\n"
        )
    blocks += [f"note: {note}\n" for note in report.notes]
    denied = sum(1 for image in report.images if not image.admitted)
    total = len(report.images)
    blocks.append(f"{total - denied} of {total} image{'s' if total != 1 else ''} admitted\n")
    return "\n".join(blocks)

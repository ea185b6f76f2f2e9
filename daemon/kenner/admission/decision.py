"""The decision core: from a parsed request and the configuration to an answer.

It runs in two pure steps around the (asynchronous) validators:

1. ``plan_request`` decides what needs validating. Requests that need none are answered here:
   operations other than CREATE/UPDATE, UPDATEs of objects being deleted that change no image
   (Connaisseur #2053: finalizers must not be blocked; any new or changed image is validated,
   and a CREATE is always validated), non-Pod kinds in ``podsOnly`` mode. Broken objects are
   denied here. Each distinct image is parsed and matched to exactly one policy rule; images
   that cannot be parsed or match no rule are denied without asking a validator.
2. ``decide`` folds the verdicts into one answer: every failing image is named with its
   reason; allowed images validated in ``mutate`` mode are pinned to their signed digest with
   a JSON patch; detection mode and per-rule ``enforce: warn`` turn denials into warnings.

Shortcuts skip an image only on a verified proof (``kenner.admission.proof``): automatic
unchanged approval when ``oldObject`` carries a proof for its images under the current policy
and key, automatic child approval when the caller verified the owner's proof
(``kenner.kube.children``). When every image of an allowed object is trusted or skipped on a
proof, outside detection mode and with no ``enforce: warn`` failure, the patch also writes the
object's own proof.

Fail closed: anything unexpected denies, and an image with no verdict (the request deadline
passed) is denied.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from typing import Any

import attrs

from kenner.admission.image import ImageRef, ImageRefError, parse_image
from kenner.admission.patch import pin_images
from kenner.admission.policy import PolicyIndex
from kenner.admission.proof import Prover, proof_of, proof_patch
from kenner.admission.review import AdmissionRequest, AdmissionResponse
from kenner.admission.verdict import Trusted, Untrusted, Verdict
from kenner.admission.workload import (
    ImageSite,
    WorkloadError,
    extract_images,
    is_workload_kind,
    marked_for_deletion,
)
from kenner.config.model import Config, Rule
from kenner.quoting import quote

VALIDATED_OPERATIONS = ("CREATE", "UPDATE")
# Failing images named one by one in an answer's message or warnings; the rest are counted.
MAX_LISTED = 20
# The reasons of images skipped by a shortcut (the decision log and the metrics use them).
UNCHANGED_SKIP = "unchanged on update (proof verified)"
CHILD_SKIP = "in the owner's template (proof verified)"


@attrs.frozen
class ImageCheck:
    """One distinct image to validate, with every place it appears."""

    ref: ImageRef
    rule: Rule
    sites: tuple[ImageSite, ...]
    # The normalised reference: one validation per distinct image per request.
    key: str = attrs.field(
        init=False, default=attrs.Factory(lambda self: str(self.ref), takes_self=True)
    )


@attrs.frozen
class ImageOutcome:
    """What happened to one image, for the response and the decision log."""

    image: str
    rule: str | None
    validator: str | None
    verdict: str  # "allow", "deny", "warn", "skip"
    reason: str
    digest: str | None = None


@attrs.frozen
class Plan:
    """What one request needs: either an answer already, or a list of images to validate."""

    request: AdmissionRequest
    answer: AdmissionResponse | None = None
    checks: tuple[ImageCheck, ...] = ()
    early: tuple[ImageOutcome, ...] = ()  # denied before validation, or skipped on a proof
    sites: tuple[ImageSite, ...] = ()  # every image of the object, for its proof
    prover: Prover | None = None


@attrs.frozen
class Decision:
    """The answer and the per-image record behind it."""

    response: AdmissionResponse
    outcomes: tuple[ImageOutcome, ...]


def child_approval_applies(config: Config) -> bool:
    """Whether images an owner vouches for skip validation: ``automaticChildApproval`` is on
    and ``podsOnly`` is not (controllers are then admitted unchecked and carry no proof).

    The decision is made here; ``kenner.kube.children`` asks it only to skip useless reads.
    """
    features = config.features
    return features.automatic_child_approval and features.resource_validation_mode != "podsOnly"


def plan_request(
    request: AdmissionRequest,
    config: Config,
    policy: PolicyIndex | None = None,
    owner_images: frozenset[str] = frozenset(),
    prover: Prover | None = None,
) -> Plan:
    """Work out which images of ``request`` must be validated, under which rules.

    ``policy`` is the configuration's rule index (built from ``config.policy`` when absent).
    ``owner_images``: normalised digest references from the pod templates of the object's
    owners whose proofs the caller verified (automatic child approval); those images are not
    validated. ``prover``: the snapshot's proof key and policy hash; without one nothing is
    proven: unchanged images are validated and no proof is written.
    """
    if request.operation not in VALIDATED_OPERATIONS:
        return Plan(request, AdmissionResponse(True, f"{request.operation} is not validated"))
    if request.object is None:
        return Plan(request, AdmissionResponse(False, _deny_text("the request has no object")))
    if _finalising_unchanged(request, config.server.max_images_per_request):
        message = "object is being deleted and its images are unchanged; not validated"
        return Plan(request, AdmissionResponse(True, message))
    if not is_workload_kind(request.kind):
        kind = quote(request.kind) if request.kind else "(none)"
        reason = f"kind {kind} is not a workload kind kenner validates"
        return Plan(request, AdmissionResponse(False, _deny_text(reason)))
    if config.features.resource_validation_mode == "podsOnly" and request.kind != "Pod":
        warning = f"pod-only validation active: {request.kind} admitted without validation"
        return Plan(request, AdmissionResponse(True, warnings=(warning,)))
    try:
        sites = extract_images(
            request.kind, request.object, max_images=config.server.max_images_per_request
        )
    except WorkloadError as error:
        return Plan(request, AdmissionResponse(False, _deny_text(str(error))))

    if not child_approval_applies(config):
        owner_images = frozenset()  # whatever the caller read: owners vouch for nothing here
    unchanged: set[str] = set()
    if config.features.automatic_unchanged_approval and prover is not None:
        unchanged = _proven_old_images(request, prover)
    if policy is None:
        policy = PolicyIndex(config.policy)
        checks, early = _checks(policy, sites, unchanged, owner_images)
    elif unchanged or owner_images or not _rememberable(sites):
        checks, early = _checks(policy, sites, unchanged, owner_images)
    else:
        checks, early = _remembered_checks(policy, sites)
    return Plan(request, checks=checks, early=early, sites=sites, prover=prover)


Grouped = tuple[tuple[ImageCheck, ...], tuple[ImageOutcome, ...]]


def _checks(
    policy: PolicyIndex,
    sites: tuple[ImageSite, ...],
    unchanged: AbstractSet[str],
    owner_images: AbstractSet[str],
) -> Grouped:
    """One check per distinct image of ``sites`` with its rule, and the images settled
    before validation: unreadable or without a rule (denied), skipped on a proof."""
    grouped: dict[str, tuple[ImageRef, list[ImageSite]]] = {}
    early: list[ImageOutcome] = []
    for site in sites:
        try:
            ref = parse_image(site.image)
        except ImageRefError as error:
            early.append(ImageOutcome(site.image, None, None, "deny", str(error)))
            continue
        normalised = str(ref)
        if normalised in unchanged:
            early.append(ImageOutcome(site.image, None, None, "skip", UNCHANGED_SKIP))
        elif normalised in owner_images and ref.digest is not None:
            early.append(ImageOutcome(site.image, None, None, "skip", CHILD_SKIP))
        elif normalised in grouped:
            grouped[normalised][1].append(site)
        else:
            grouped[normalised] = (ref, [site])

    checks: list[ImageCheck] = []
    for ref, ref_sites in grouped.values():
        rule = policy.select(ref)
        if rule is None:
            reason = "no rule of the image policy matches it"
            early.append(ImageOutcome(str(ref), None, None, "deny", reason))
        else:
            checks.append(ImageCheck(ref, rule, tuple(ref_sites)))
    return tuple(checks), tuple(early)


# The checks of a small object with nothing skipped, remembered per policy index (one per
# configuration snapshot): the same workloads come back with the same images, and the
# result is a pure function of the index and the image fields (all immutable). Objects with
# more or longer image fields are grouped anew, so the memory stays bounded (1024 entries
# of at most 4 KiB of text) whatever requests hold.
REMEMBERED_MAX_SITES = 8
REMEMBERED_MAX_CHARS = 4096


def _rememberable(sites: tuple[ImageSite, ...]) -> bool:
    if len(sites) > REMEMBERED_MAX_SITES:
        return False
    return sum(len(s.image) + len(s.container) for s in sites) <= REMEMBERED_MAX_CHARS


@functools.lru_cache(maxsize=1024)
def _remembered_checks(policy: PolicyIndex, sites: tuple[ImageSite, ...]) -> Grouped:
    return _checks(policy, sites, frozenset(), frozenset())


def decide(plan: Plan, verdicts: Mapping[str, Verdict], config: Config) -> Decision:
    """Fold the validators' verdicts (keyed by ``ImageCheck.key``) into the answer."""
    if plan.answer is not None:
        return Decision(plan.answer, plan.early)
    outcomes = list(plan.early)
    pins: list[tuple[ImageSite, ImageRef]] = []
    for check in plan.checks:
        verdict = verdicts.get(check.key)
        if verdict is None:
            verdict = Untrusted("validation did not finish before the request deadline")
        outcome, pinned = _judge(check, verdict)
        outcomes.append(outcome)
        if pinned is not None:
            pins.extend((site, pinned) for site in check.sites)

    denials = [o for o in outcomes if o.verdict == "deny"]
    warnings = _listed([_describe(o) for o in outcomes if o.verdict == "warn"], "warned")
    if denials and config.features.detection_mode:
        warnings += _listed(
            [f"detection mode active: {_describe(o)}" for o in denials], "would be denied"
        )
        return Decision(AdmissionResponse(True, warnings=tuple(warnings)), tuple(outcomes))
    if denials:
        message = _deny_text("; ".join(_listed([_describe(o) for o in denials], "denied")))
        return Decision(AdmissionResponse(False, message, tuple(warnings)), tuple(outcomes))
    patch = pin_images(pins)
    if not warnings and not config.features.detection_mode:
        patch += _proof(plan, pins)
    response = AdmissionResponse(True, warnings=tuple(warnings), patch=patch)
    return Decision(response, tuple(outcomes))


def _proof(plan: Plan, pins: list[tuple[ImageSite, ImageRef]]) -> tuple[dict[str, Any], ...]:
    """The patch operation writing the object's proof: over its images as admitted.

    No operation when the object already carries that value, or when an UPDATE itself set the
    annotation to another value: the Deployment controller keeps its ReplicaSets' annotations
    equal to its Deployment's, and overwriting what it just wrote would start an endless
    update fight. A proof left that way is one kenner did not make for these images: it does
    not verify, and the object's children are validated in full.
    """
    request, new = plan.request, plan.request.object
    if plan.prover is None or new is None or not plan.sites:
        return ()
    present = proof_of(new)
    old = request.old_object
    updater_set = present is not None and old is not None and present != proof_of(old)
    if request.operation == "UPDATE" and updater_set:
        return ()
    admitted = {site.pointer: site.image for site in plan.sites}
    admitted |= {site.pointer: str(ref) for site, ref in pins}
    value = plan.prover.seal(request.namespace, admitted.items())
    operation = None if present == value else proof_patch(new, value)
    return () if operation is None else (operation,)


def _judge(check: ImageCheck, verdict: Verdict) -> tuple[ImageOutcome, ImageRef | None]:
    rule, options = check.rule, check.rule.options
    image = str(check.ref)
    if isinstance(verdict, Untrusted):
        kind = "warn" if options.enforce == "warn" else "deny"
        return ImageOutcome(image, rule.pattern, rule.validator, kind, verdict.reason), None
    assert isinstance(verdict, Trusted)
    pinned = None
    # A reference that already names the signed digest is left as written (no patch).
    digest = verdict.digest
    if digest is not None and digest != check.ref.digest and options.mode == "mutate":
        pinned = _pinned(check.ref, digest)
    outcome = ImageOutcome(
        image, rule.pattern, rule.validator, "allow", "trusted", digest=verdict.digest
    )
    return outcome, pinned


@functools.lru_cache(maxsize=4096)  # warm images are pinned to the same digest every time
def _pinned(ref: ImageRef, digest: str) -> ImageRef:
    return ref.with_digest(digest)


def _finalising_unchanged(request: AdmissionRequest, max_images: int) -> bool:
    """An UPDATE of an object being deleted that keeps every image (pointer and reference)."""
    new, old = request.object, request.old_object
    if request.operation != "UPDATE" or new is None or old is None:
        return False
    if not marked_for_deletion(new):
        return False
    try:
        new_sites = extract_images(request.kind, new, max_images=max_images)
        old_sites = extract_images(request.kind, old, max_images=max_images)
    except WorkloadError:
        return False
    return {s.pointer: s.image for s in new_sites} == {s.pointer: s.image for s in old_sites}


def _proven_old_images(request: AdmissionRequest, prover: Prover) -> set[str]:
    """Normalised references of ``oldObject`` when it carries a proof that verifies now."""
    old = request.old_object
    if request.operation != "UPDATE" or old is None:
        return set()
    if not prover.verify_object(old, request.namespace, request.kind).ok:
        return set()
    sites = extract_images(request.kind, old)  # readable: the proof verified over them
    refs: set[str] = set()
    for site in sites:
        try:
            refs.add(str(parse_image(site.image)))
        except ImageRefError:
            continue
    return refs


def _listed(texts: list[str], what: str) -> list[str]:
    """At most ``MAX_LISTED`` of ``texts``, then one line counting the rest: a review of a
    thousand failing images gets a readable answer, not a hundred kilobytes."""
    if len(texts) <= MAX_LISTED:
        return texts
    rest = len(texts) - MAX_LISTED
    return [*texts[:MAX_LISTED], f"and {rest} more image{'s' if rest > 1 else ''} {what}"]


def _describe(outcome: ImageOutcome) -> str:
    return f"image {quote(outcome.image)}: {outcome.reason}"


def _deny_text(reason: str) -> str:
    return f"kenner denied the request: {reason}"

"""The decision core: from a parsed request and the configuration to an answer.

It runs in two pure steps around the (asynchronous) validators:

1. ``plan_request`` decides what needs validating. Requests that need none are answered here:
   operations other than CREATE/UPDATE, objects being deleted (Connaisseur #2053: finalizers
   must not be blocked), non-Pod kinds in ``podsOnly`` mode. Broken objects are denied here.
   Each distinct image is parsed and matched to exactly one policy rule; images that cannot
   be parsed or match no rule are denied without asking a validator.
2. ``decide`` folds the verdicts into one answer: every failing image is named with its
   reason; allowed images validated in ``mutate`` mode are pinned to their signed digest with
   a JSON patch; detection mode and per-rule ``enforce: warn`` turn denials into warnings.

Fail closed: anything unexpected denies, and an image with no verdict (the request deadline
passed) is denied.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from kenner.admission.image import ImageRef, ImageRefError, parse_image
from kenner.admission.patch import pin_images
from kenner.admission.policy import PolicyIndex
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

VALIDATED_OPERATIONS = ("CREATE", "UPDATE")


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
    early: tuple[ImageOutcome, ...] = ()  # denied before validation, or skipped


@attrs.frozen
class Decision:
    """The answer and the per-image record behind it."""

    response: AdmissionResponse
    outcomes: tuple[ImageOutcome, ...]


def plan_request(
    request: AdmissionRequest,
    config: Config,
    policy: PolicyIndex | None = None,
    owner_images: frozenset[str] = frozenset(),
) -> Plan:
    """Work out which images of ``request`` must be validated, under which rules.

    ``policy`` is the configuration's rule index (built from ``config.policy`` when absent).
    ``owner_images``: normalised references from the pod templates of the object's verified
    owners (automatic child approval, fetched by the caller); those images are not validated.
    """
    if request.operation not in VALIDATED_OPERATIONS:
        return Plan(request, AdmissionResponse(True, f"{request.operation} is not validated"))
    if request.object is None:
        return Plan(request, AdmissionResponse(False, _deny_text("the request has no object")))
    if marked_for_deletion(request.object):
        return Plan(request, AdmissionResponse(True, "object is being deleted; not validated"))
    if not is_workload_kind(request.kind):
        reason = f"kind {request.kind or '(none)'!r} is not a workload kind kenner validates"
        return Plan(request, AdmissionResponse(False, _deny_text(reason)))
    if config.features.resource_validation_mode == "podsOnly" and request.kind != "Pod":
        warning = f"pod-only validation active: {request.kind} admitted without validation"
        return Plan(request, AdmissionResponse(True, warnings=(warning,)))
    try:
        sites = extract_images(request.kind, request.object)
    except WorkloadError as error:
        return Plan(request, AdmissionResponse(False, _deny_text(str(error))))

    unchanged = _old_images(request) if config.features.automatic_unchanged_approval else set()
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
            early.append(ImageOutcome(site.image, None, None, "skip", "unchanged on update"))
        elif normalised in owner_images:
            early.append(ImageOutcome(site.image, None, None, "skip", "in the owner's template"))
        elif normalised in grouped:
            grouped[normalised][1].append(site)
        else:
            grouped[normalised] = (ref, [site])

    policy = policy or PolicyIndex(config.policy)
    checks: list[ImageCheck] = []
    for ref, ref_sites in grouped.values():
        rule = policy.select(ref)
        if rule is None:
            reason = "no rule of the image policy matches it"
            early.append(ImageOutcome(str(ref), None, None, "deny", reason))
        else:
            checks.append(ImageCheck(ref, rule, tuple(ref_sites)))
    return Plan(request, checks=tuple(checks), early=tuple(early))


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
    warnings = [f"image {o.image!r}: {o.reason}" for o in outcomes if o.verdict == "warn"]
    if denials and config.features.detection_mode:
        warnings += [f"detection mode active: {_describe(o)}" for o in denials]
        return Decision(AdmissionResponse(True, warnings=tuple(warnings)), tuple(outcomes))
    if denials:
        message = _deny_text("; ".join(_describe(o) for o in denials))
        return Decision(AdmissionResponse(False, message, tuple(warnings)), tuple(outcomes))
    response = AdmissionResponse(True, warnings=tuple(warnings), patch=pin_images(pins))
    return Decision(response, tuple(outcomes))


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
        pinned = check.ref.with_digest(digest)
    outcome = ImageOutcome(
        image, rule.pattern, rule.validator, "allow", "trusted", digest=verdict.digest
    )
    return outcome, pinned


def _old_images(request: AdmissionRequest) -> set[str]:
    """Normalised references already present in ``oldObject`` (automatic unchanged approval)."""
    if request.old_object is None:
        return set()
    try:
        sites = extract_images(request.kind, request.old_object)
    except WorkloadError:
        return set()
    refs: set[str] = set()
    for site in sites:
        try:
            refs.add(str(parse_image(site.image)))
        except ImageRefError:
            continue
    return refs


def _describe(outcome: ImageOutcome) -> str:
    return f"image {outcome.image!r}: {outcome.reason}"


def _deny_text(reason: str) -> str:
    return f"kenner denied the request: {reason}"

"""The validator interface: a sans-IO step from facts to a verdict or to the next needs.

A validator decides whether one image is trusted under one rule's options. It never opens a
socket, waits, or starts a thread: it is given the facts it asked for and either returns the
verdict or the ``Needs`` it still misses (``kenner.validators.needs``), in the manner of h11
and python-tuf's ``TrustedMetadataSet``. The driver (``kenner.validators.driver``) meets the
needs (network, cache, single-flight, deadlines, worker threads) and calls the step again.

Rules for ``step``:

- It is a function of its arguments and the facts: called again with more facts, it walks the
  same way and gets further. It returns ``Needs`` only for needs not in ``facts`` (the driver
  treats asking again for a fact it has as a bug), and may ask for several at once, which are
  then met concurrently.
- It runs in the request's task, once per image on the warm path, where the facts come from
  the cache alone: it must be cheap (memoise per-rule work), and anything over about 1 ms of
  CPU belongs in a ``Compute`` need or a ``Derived`` value, which are cached.
- Expected failures (unsigned, bad signature, a fetch that failed, a remembered failure) are
  returned as ``Untrusted`` naming the image's problem, never raised. A raised exception is
  a bug: the driver's caller denies the image as an internal error.
- It may keep in-memory state that outlives requests only where verification needs it (the
  Notary rollback memory, updated from a derivation).
- ``reuses_verdict(ask)`` says whether the step's answer to ``ask`` depends on nothing but
  ``ask`` and the facts (no clock, no state of its own). Where it does, the driver may give the
  same verdict again, without the step, while every fact it read is still the very same cache
  entry (``kenner.validators.driver``).
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

from kenner.admission.image import ImageRef
from kenner.admission.verdict import Verdict
from kenner.config.model import RuleOptions
from kenner.oci.dockerconfig import RegistryLogins
from kenner.validators.needs import Facts, Needs


class Ask(NamedTuple):  # a tuple: built for every image of every request, cheaply
    """One question to a validator: is ``image`` trusted under ``options`` (the matching rule's
    ``with:``)? ``pull_logins`` are the logins of the admitted object's pull secrets, when a
    validator with ``auth.k8sKeychain`` exists and they were read; None otherwise."""

    image: ImageRef
    options: RuleOptions
    pull_logins: RegistryLogins | None = None


class Validator(Protocol):
    """One configured validator's decision, as a sans-IO step (see the module)."""

    @property
    def name(self) -> str:
        """The validator's configured name."""
        ...

    def step(self, ask: Ask, facts: Facts) -> Verdict | Needs:
        """The verdict for ``ask`` from ``facts``, or what is missing to reach it."""
        ...

    def reuses_verdict(self, ask: Ask) -> bool:
        """Whether ``step(ask, facts)`` is a function of ``ask`` and ``facts`` alone."""
        ...

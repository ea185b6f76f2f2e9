"""The registry logins of the object being admitted (its ``imagePullSecrets``), for the
validators that use them (cosign with ``auth.k8sKeychain``).

They travel in a context variable instead of through ``Validator.validate``: only one kind of
validator reads them, and the request task sets them around validation, which every task it
starts inherits. Loads that run in the shared background nursery do *not* see the variable, so
a validator reads it in ``validate`` and hands the login on explicitly.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from kenner.oci.dockerconfig import RegistryLogins

_POD_LOGINS: ContextVar[RegistryLogins | None] = ContextVar("kenner_pod_logins", default=None)


@contextmanager
def pod_logins(logins: RegistryLogins | None) -> Iterator[None]:
    """Make ``logins`` the current object's logins for the duration of the block."""
    token = _POD_LOGINS.set(logins)
    try:
        yield
    finally:
        _POD_LOGINS.reset(token)


def current_pod_logins() -> RegistryLogins | None:
    """The logins set by the innermost ``pod_logins`` block of this task (or its parents)."""
    return _POD_LOGINS.get()

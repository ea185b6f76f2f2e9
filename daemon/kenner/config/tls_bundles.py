"""What OpenSSL refuses in a CA bundle that the certificate parser accepts.

kenner verifies servers with ``ssl`` (``kenner.net.clients.tls_context``), but the pure config
package may not import it; these checks hold what the loader must refuse on top of parsing
the certificates, so that a bundle that loads is one the TLS context can use.
"""

from __future__ import annotations

import re

_INDENTED_PEM_LINE = re.compile(r"^[ \t]+-----(BEGIN|END) ", re.MULTILINE)


def tls_bundle_problem(pem: str) -> str | None:
    """Why OpenSSL would refuse ``pem`` as a CA bundle although it parses, or None."""
    if not pem.isascii():
        return "must be ASCII only (no character such as 'ä', not even in a comment)"
    if _INDENTED_PEM_LINE.search(pem):
        return "the PEM lines must not be indented"
    return None

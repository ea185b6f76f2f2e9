"""Pure codecs of what replicas share through Redis: verdict keys and values, rollback entries.

No I/O here (``kenner.net.redis_store`` talks to Redis). Every value read back is untrusted:
it is authenticated with HMAC-SHA256 under the operator's key before anything in it is used.
"""

from kenner.sharing.codec import (
    MAX_VALUE_BYTES,
    SharedValueError,
    SharedVerdict,
    decode_verdict,
    encode_verdict,
    fingerprint,
    login_id,
    repository_id,
    rollback_entry,
    rollback_entry_version,
    verdict_key,
)

__all__ = [
    "MAX_VALUE_BYTES",
    "SharedValueError",
    "SharedVerdict",
    "decode_verdict",
    "encode_verdict",
    "fingerprint",
    "login_id",
    "repository_id",
    "rollback_entry",
    "rollback_entry_version",
    "verdict_key",
]

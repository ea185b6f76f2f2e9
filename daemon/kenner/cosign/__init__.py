"""Pure Cosign signature verification: simple-signing payloads, key and keyless (Fulcio)
signatures, offline Rekor bundles, and threshold counting over trust roots (no I/O)."""

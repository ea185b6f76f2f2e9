"""Notation (Notary Project) signatures: JWS and COSE envelopes, X.509 chains, RFC 3161.

Pure: no I/O. ``kenner.notation.verify`` states the verification steps; each module states its
rules. The validator (``kenner.validators.notation``) finds the envelopes and calls
``verify_envelope`` once per envelope and trust root.
"""

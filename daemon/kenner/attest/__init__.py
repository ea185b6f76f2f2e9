"""In-toto attestations: DSSE envelopes, statements, and the policies rules put on them.

Pure (no I/O): ``dsse`` reads envelopes and checks their signatures, ``statement`` reads the
in-toto statement they carry, ``pointer`` and ``times`` the JSON Pointers and timestamps a
policy uses, ``policy`` the configured conditions, ``judge`` whether the verified statements of
one image satisfy a rule. The cosign validator (``kenner.validators.cosign``) fetches the
envelopes and verifies them with its trust roots.
"""

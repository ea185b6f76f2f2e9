"""Sigstore bundles (cosign v3, ``actions/attest``) verified offline against a trusted root.

Pure: parsing and verification of untrusted bytes, no I/O. ``verify.verify_bundle`` is the
entry point; the other modules are its parts (each states the rules it follows).
"""

"""RFC 3161 timestamps: parse a TimeStampResp, verify a TimeStampToken (RFC 3161, RFC 5816).

Pure: no I/O. Both Notation (a bare TimeStampToken in the unsigned header
``io.cncf.notary.timestampSignature``) and Sigstore bundles (DER TimeStampResp in
``signedTimestamp``) use it. ``kenner.timestamp.verify`` states the rules.

The names live in their modules (``errors``, ``parse``, ``verify``); this package imports none
of them. ``parse`` and ``verify`` load asn1crypto (5 MB of memory), so their users import them
where a timestamp is first read, and ``errors`` alone is light.
"""

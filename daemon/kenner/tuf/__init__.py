"""Notary v1 / TUF trust-data verification, pure and sans-IO.

Bytes in, values out, typed :class:`TrustError` for every denial. The fetcher around it
(``kenner.net``) does the I/O in at most three rounds::

    keys = [parse_public_key_pem(pem) for pem in trust_root_pems]         # at config load
    files = {role: <bytes of role.json> for role in TOP_LEVEL_ROLES}       # round 1, concurrent;
                                                                           # leave out 404s
    try:
        repo = verify_repository(gun, files, keys, now)
    except RootRotationNeeded as need:                                     # only on rotation
        roots = {n: <bytes of n.root.json> for n in range(1, need.current_version)}
        repo = verify_repository(gun, files, keys, now, rotation_roots=roots)
    needed = repo.roles_needed(required)                                   # round 2, concurrent
    trusted = verify_delegations(repo, {r: <bytes or None on 404> for r in needed}, now)
    guard.observe(host, gun, trusted.versions)                             # RollbackGuard
    digest = choose_digest(trusted, tag, digest, required)                 # "sha256:<hex>"

Use one timezone-aware ``now`` for the whole decision, cap response sizes with
:mod:`kenner.tuf.limits`, and cache a decision no longer than ``trusted.expires``. The rules
are written out in ``docs/notaryv1.md``.

The names live in their modules (``keys``, ``repository``, ``delegations``, ``digest``,
``rollback``, ``errors``, ``canonical``, ``metadata``, ``limits``); this package imports none
of them, so the rollback memory every kenner keeps does not load the verifier with it.
"""

"""Network I/O on trio: HTTPS fetching with auth, plus caching and single-flight helpers.

The one layer that imports httpx. Everything here raises ``kenner.net.errors.FetchError``
subclasses for network failures; the pure packages never see httpx types.
"""

"""A small Kubernetes API client: only what the watchdog and child approval need.

- ``access``: where the API is and how to authenticate (kubeconfig or in-cluster), pure apart
  from an injected file reader.
- ``client``: GETs of single objects over httpx with typed errors; the caller owns deadlines.
- ``owners`` and ``webhook``: pure logic over the JSON objects the API returns.
- ``children``: automatic child approval (fetch the owner, compare its UID, list its images).
"""

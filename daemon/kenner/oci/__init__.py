"""Pure OCI distribution data: manifest and index media types and parsing, digests, image
naming on registries, and ``.dockerconfigjson`` credential matching (no I/O)."""

"""kenner: a Kubernetes admission controller that admits only signed container images."""

__version__ = "0.1.0"

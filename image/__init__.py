"""kenner's container image, built without a container engine: ``python -m image.build``
(``make image``), see image/build.py and docs/deploy.md."""

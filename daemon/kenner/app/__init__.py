"""Answering one AdmissionReview, one module per step, read top to bottom.

``pipeline`` walks a request forward through the steps and never back:

1. ``read``: the body becomes an ``AdmissionRequest`` (a big body in a worker thread).
2. ``needs``: which outside facts the request needs (owner objects, pull secrets).
3. ``gather``: read them concurrently, under the request's deadline.
4. ``verdicts``: plan the request and let the validators turn the images into verdicts.
5. ``kenner.admission.decision.decide``: verdicts become the decision (pure).
6. ``observe``: alerts (which may deny), metrics, the decision log.
7. ``respond``: the decision becomes the response body; the internal-error boundary.

``state`` holds what every step reads: the configuration snapshot a request keeps from start
to end. Rules for the package: a step imports only from the steps before it, from the I/O
adapters and from the pure cores, never from ``kenner.server`` (the contract test,
``tests/unit/test_layering.py``); decisions stay in the pure cores (``kenner.admission``), so
the modules here only order the work, choose what runs concurrently or in a worker thread, and
hold the request's deadline.
"""

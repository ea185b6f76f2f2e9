"""The root of every failure kenner expects: ``KennerError``.

Rules:

* Every exception class kenner defines derives from ``KennerError`` (directly or through its
  area's base such as ``FetchError`` or ``KubeError``); a unit test walks the package to hold
  this. Classes that were ``ValueError``\\ s stay ``ValueError``\\ s too.
* A ``KennerError`` is an expected failure with a message fit for an operator: bad input,
  a bad configuration, a server that does not answer. Anything else reaching a boundary is a
  bug in kenner (or an unforeseen failure of a library) and is shown with its traceback.
* Each boundary translates once: the HTTP app answers 400 (``ReviewError``), the CLI exits 2
  with the message (a bug keeps its traceback), the daemon logs one line (a reload that fails
  keeps the previous configuration serving), a validator denies the image.
* A bug is never remembered as an outcome: caches keep expected failures only.

Pure: imported by every layer, imports nothing.
"""

from __future__ import annotations


class KennerError(Exception):
    """An expected failure; its message says what is wrong in an operator's words."""

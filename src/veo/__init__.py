"""veo: self-hosted remote technical support.

One package with two halves that never import each other's dependencies: ``veo.server`` (the
technician's web app, tickets, signaling) and ``veo.agent`` (what the end user runs). They agree on
one wire contract, ``veo.protocol``.
"""

__version__ = "0.2.0"

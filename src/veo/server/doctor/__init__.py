"""``veo doctor``: check a running deployment with the node's own settings, in plain words.

Each module checks one family (database and migrations, Redis and the nodes' heartbeats and
clocks, the TURN relay, the public URL and its certificate, the data directory's keys) and
returns :class:`~veo.server.doctor.report.Finding` objects; ``cli.py`` runs them all, prints one
line per check in the operator's language, and exits non-zero when anything needs doing, so the
same command serves a person after an install and a monitoring job afterwards.
"""

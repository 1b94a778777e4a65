"""Reports: how fast tickets get answered and solved, what keeps coming back, and the pilot.

The figures are computed in plain Python over plain rows (``rows.py``) by pure functions
(``stats.py``, ``compute.py``, ``clusters.py``, ``pilot.py``), so tests can check them against
values worked out by hand. ``queries.py`` is the only part that reads the database, and
``service.py`` caches a finished report until the data it was computed from changes.
The page (``pages.py``), the REST API (``api.py``) and the CSV export (``export.py``) all render
the same :class:`~veo.server.reports.compute.Report`, so they can never disagree.
"""

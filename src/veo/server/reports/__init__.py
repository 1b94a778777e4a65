"""Reports: how fast tickets get answered and solved, what keeps coming back, and the pilot.

The figures are computed by pure functions (``stats.py``, ``compute.py``, ``clusters.py``,
``pilot.py``) over columns of numbers (``frame.py``), which the database hands over directly or
tests build from plain rows (``rows.py``) with values worked out by hand; both give the same
figures to the last bit. ``queries.py`` is the only part that reads the database, and
``service.py`` caches a finished report until the data it was computed from changes.
The page (``pages.py``), the REST API (``api.py``) and the CSV export (``export.py``) all render
the same :class:`~veo.server.reports.compute.Report`, so they can never disagree.
"""

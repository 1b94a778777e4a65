"""Realistic sample help-desk data: the one generator behind the demo, the bench and the tests.

``veo admin sample-data`` fills a fresh instance with months of tickets so a newcomer sees full
reports on day one; ``veo bench tickets`` times pages over 100,000 of them; the tests check that
the data is consistent. All three call :func:`veo.server.sample.generate.generate` with a
:class:`~veo.server.sample.generate.Plan` (``demo_plan``, ``bench_plan``).
"""

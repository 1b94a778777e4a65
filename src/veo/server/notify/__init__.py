"""Notifications: e-mail to requesters, outgoing webhooks, and the requester's rating.

Everything a person or a helpdesk should hear about is first written to the OUTBOX table in the
caller's transaction (``events.py``), so a ticket change and its notification commit together or
not at all. A background worker (``worker.py``) sends what is due over SMTP (``mailer.py``) or
HTTP (``webhooks.py``), retrying with backoff; a failure is stored on the row and shown, never
dropped. ``install(app)`` mounts the routes and starts the worker.
"""

"""Prometheus metrics of the server, in one registry that ``/metrics`` exposes.

Import the objects to update them (``ACTIVE_SESSIONS.set(n)``, ``SIGNALING_MESSAGES.labels(...)``);
a registry of our own (not the process-global default) keeps the output to veo's metrics plus
the process collector, and lets tests build many apps in one process.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.process_collector import ProcessCollector

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)

HTTP_REQUESTS = Counter(
    "veo_http_requests",
    "HTTP requests handled, by route template, method and status code.",
    ["route", "method", "status"],
    registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "veo_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template.",
    ["route"],
    registry=REGISTRY,
)
ACTIVE_SESSIONS = Gauge(
    "veo_active_sessions",
    "Remote sessions joined or active (not waiting, ended or expired); refreshed on each scrape.",
    registry=REGISTRY,
)
SIGNALING_MESSAGES = Counter(
    "veo_signaling_messages",
    "Signaling messages relayed, by direction and type (set by the sessions hub).",
    ["direction", "type"],
    registry=REGISTRY,
)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def exposition() -> bytes:
    return generate_latest(REGISTRY)

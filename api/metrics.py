"""Prometheus metrics of one app: requests and latency per route, answer stage timings, readiness.

Each app owns its registry, so several apps (tests, workers) never collide on metric names.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class ApiMetrics:
    """The metrics the service exports at ``/metrics``."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "ragmed_http_requests", "HTTP requests by route template, method and status.",
            ["route", "method", "status"], registry=self.registry,
        )
        self.latency = Histogram(
            "ragmed_http_request_duration_seconds", "Time from request to the end of the response, by route.",
            ["route", "method"], buckets=_LATENCY_BUCKETS, registry=self.registry,
        )
        self.in_progress = Gauge("ragmed_http_requests_in_progress", "Requests being served.", registry=self.registry)
        self.stage = Histogram(
            "ragmed_answer_stage_seconds", "Answer timings by stage (retrieval, generation, citation check, total).",
            ["stage"], buckets=_LATENCY_BUCKETS, registry=self.registry,
        )
        self.answers = Counter(
            "ragmed_answers", "Answers by generator and whether they abstained.",
            ["generator", "abstained"], registry=self.registry,
        )
        self.ready = Gauge("ragmed_ready", "1 when the index is loaded and models are warm.", registry=self.registry)
        self.revision = Gauge("ragmed_index_revision", "Revision of the loaded index.", registry=self.registry)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one finished request and record its latency."""
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(seconds)

    def observe_answer(self, timings: Mapping[str, float], generator: str, abstained: bool) -> None:
        """Record the stage timings of one answer.

        Args:
            timings: ``Answer.timings``; keys ending in ``_ms`` are milliseconds, others seconds.
            generator: the generator that produced the answer.
            abstained: whether the answer abstained.
        """
        for key, value in timings.items():
            if not isinstance(value, (int, float)):
                continue
            if key.endswith("_ms"):
                stage, seconds = key[:-3], value / 1000.0
            else:
                stage, seconds = key.removesuffix("_s"), float(value)
            self.stage.labels(stage).observe(max(seconds, 0.0))
        self.answers.labels(generator, "true" if abstained else "false").inc()

    def render(self) -> bytes:
        """Return the text exposition of every metric."""
        return generate_latest(self.registry)

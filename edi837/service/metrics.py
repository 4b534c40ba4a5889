"""The service's Prometheus metrics (prometheus-client, text format at /metrics).

One registry per app, so several apps in one process (tests) keep apart."""

from __future__ import annotations

from typing import Any, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600)


class Metrics:
    def __init__(self, queued: Callable[[], float], running: Callable[[], float]):
        self.registry = r = CollectorRegistry()
        self.uploads = Counter("edi837_uploads", "Uploads answered, by HTTP status (202, 400, 403, 413, 429)",
                               ["status"], registry=r)
        self.files = Counter("edi837_files", "Uploads gated (files through the gate)", registry=r)
        self.claims = Counter("edi837_claims", "Claims gated, by verdict", ["verdict"], registry=r)
        self.findings = Counter("edi837_findings", "Findings of gated uploads, by rule", ["rule"], registry=r)
        self.failed = Counter("edi837_failed_uploads", "Uploads the gate could not run on", registry=r)
        self.latency = Histogram("edi837_upload_latency_seconds",
                                 "Seconds from an upload's 202 to its outputs in place",
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.batch = Histogram("edi837_gate_run_seconds", "Seconds of one gate run (a batch of uploads)",
                               buckets=LATENCY_BUCKETS, registry=r)
        self.requests = Histogram("edi837_http_request_seconds", "Seconds to answer an HTTP request, by route",
                                  ["route", "method"], registry=r)
        q = Gauge("edi837_queue_uploads", "Uploads waiting for the gate", registry=r)
        q.set_function(queued)
        g = Gauge("edi837_running_uploads", "Uploads in the gate now", registry=r)
        g.set_function(running)

    def done(self, summary: dict[str, Any], seconds: float | None) -> None:
        self.files.inc()
        self.claims.labels("accepted").inc(summary.get("accepted", 0))
        self.claims.labels("rejected").inc(summary.get("rejected", 0))
        for rule, n in summary.get("findings_by_rule", {}).items():
            self.findings.labels(rule).inc(n)
        if seconds is not None:
            self.latency.observe(max(0.0, seconds))

    def text(self) -> bytes:
        return generate_latest(self.registry)

"""Prometheus metrics, in a registry per server so tests can run many side by side."""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ("Metrics",)

_LATENCY = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_BATCH = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)


class Metrics:
    """Every metric tocsin exports, named ``tocsin_*``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.events_received = Counter(
            "tocsin_events_received", "Events accepted and stored", ["method", "exercise"], registry=r
        )
        self.events_duplicate = Counter(
            "tocsin_events_duplicate", "Events not stored again (repeated external_id)", registry=r
        )
        self.events_rejected = Counter("tocsin_events_rejected", "Requests rejected", ["reason"], registry=r)
        self.incidents_opened = Counter(
            "tocsin_incidents_opened", "Incidents opened", ["priority", "exercise"], registry=r
        )
        self.guard_refusals = Counter(
            "tocsin_guard_refusals",
            "Definitions, events or filters refused by the guard",
            ["subject"],
            registry=r,
        )
        self.dropped_fields = Counter(
            "tocsin_adapter_dropped_fields",
            "Identity or biometric fields removed by equipment adapters before storage",
            ["adapter"],
            registry=r,
        )
        self.actions = Counter("tocsin_incident_actions", "Operator actions applied", ["action"], registry=r)
        self.commit_batch = Histogram(
            "tocsin_commit_batch_events", "Events per group commit", buckets=_BATCH, registry=r
        )
        self.commit_jobs = Histogram("tocsin_commit_batch_jobs", "Jobs per group commit", buckets=_BATCH, registry=r)
        self.commit_seconds = Histogram(
            "tocsin_commit_seconds", "Time to run and commit one group", buckets=_LATENCY, registry=r
        )
        self.ingest_seconds = Histogram(
            "tocsin_ingest_seconds", "From request body read to durable commit", buckets=_LATENCY, registry=r
        )
        self.webhook = Histogram(
            "tocsin_webhook_seconds",
            "Webhook attempts by outcome",
            ["hook", "outcome"],
            buckets=_LATENCY,
            registry=r,
        )
        self.open_incidents = Gauge("tocsin_open_incidents", "Incidents in an open handling state", registry=r)
        self.writer_pending = Gauge("tocsin_writer_pending_events", "Events waiting for the writer", registry=r)
        self.stream_clients = Gauge("tocsin_stream_clients", "Connected live-stream clients", registry=r)
        self.sia_journal_pending = Gauge(
            "tocsin_sia_journal_pending_events",
            "SIA events ACKed from the receiver's journal and not yet committed by the engine",
            registry=r,
        )

    def watch_sia(self, counters: msgspec.Struct) -> None:
        """Export the SIA receiver's own counters as ``tocsin_sia_<name>_total``."""
        self.registry.register(_StructCounters("tocsin_sia", counters))

    def observe_commit(self, jobs: int, events: int, seconds: float) -> None:
        self.commit_jobs.observe(jobs)
        self.commit_batch.observe(events)
        self.commit_seconds.observe(seconds)


class _StructCounters(Collector):
    """Counters kept as plain ints by a hot path, read only when Prometheus scrapes."""

    def __init__(self, prefix: str, counters: msgspec.Struct) -> None:
        self._prefix = prefix
        self._counters = counters

    def collect(self) -> Iterator[Metric]:
        for name in self._counters.__struct_fields__:
            family = CounterMetricFamily(f"{self._prefix}_{name}", f"SIA receiver: {name.replace('_', ' ')}")
            family.add_metric([], getattr(self._counters, name))
            yield family

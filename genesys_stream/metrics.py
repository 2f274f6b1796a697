"""Service metrics as CloudWatch Embedded Metric Format (EMF) lines on stdout.

Components record into one shared ``Metrics`` registry from any thread. A
timer calls ``emit`` (or ``flush``) about once a minute, and each call writes
one JSON line. CloudWatch Logs turns that line into metrics in the
``GenesysStream`` namespace with the dimension ``Service``, so no CloudWatch
API is called.

Three kinds of metric, fixed per name in ``CATALOGUE``:

- counter: summed between two flushes, then reset to zero. Every counter is
  written in every line, zeros included, so sums and alarms see a continuous
  series instead of missing data.
- gauge: the last value set; kept across flushes until set again.
- timing: every value observed between two flushes, written as an EMF value
  array so CloudWatch can compute percentiles. At most ``MAX_VALUES`` values
  go into one line; past that, a uniform random sample of them is kept.

The format is AWS's "Specification: Embedded metric format"
(docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/
CloudWatch_Embedded_Metric_Format_Specification.html). ``validate_emf``
checks a line against that specification, for tests.
"""

from __future__ import annotations

import enum
import math
import random
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TextIO

import orjson

NAMESPACE = "GenesysStream"
SERVICE = "genesys-stream"

# EMF limits: 100 metrics per directive, 100 values per metric, 30 names per
# dimension set, namespaces of 1 to 255 characters.
MAX_METRICS = 100
MAX_VALUES = 100
MAX_DIMENSIONS = 30
MAX_NAMESPACE_LENGTH = 255

# The units CloudWatch accepts (the StandardUnit enumeration of the CloudWatch API).
UNITS = frozenset(
    {
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    }
)


class Kind(enum.Enum):
    """The rule by which a metric's values combine between two flushes."""

    COUNTER = "counter"
    GAUGE = "gauge"
    TIMING = "timing"


@dataclass(frozen=True)
class MetricSpec:
    """The kind and CloudWatch unit of one metric name."""

    kind: Kind
    unit: str
    description: str


# Every metric the service emits. The alarms and the dashboard in
# infra/terraform refer to these names; tests/test_metrics.py keeps them in step.
CATALOGUE: Mapping[str, MetricSpec] = {
    "EventsIn": MetricSpec(Kind.COUNTER, "Count", "Data frames read from every channel."),
    "EventsAccepted": MetricSpec(
        Kind.COUNTER, "Count", "Outbound events the sink accepted for delivery."
    ),
    "EventsForwarded": MetricSpec(Kind.COUNTER, "Count", "Events delivered to the queue."),
    "EventsMerged": MetricSpec(Kind.COUNTER, "Count", "Events that changed a conversation."),
    "MergeErrors": MetricSpec(
        Kind.COUNTER, "Count", "Events the merge failed on and skipped (logged with ids)."
    ),
    "MergeConflicts": MetricSpec(
        Kind.COUNTER, "Count", "Conditional writes that found another revision stored."
    ),
    "SchemaSurprises": MetricSpec(
        Kind.COUNTER, "Count", "Missing, unknown or mistyped fields met while merging."
    ),
    "HeartbeatAge": MetricSpec(
        Kind.GAUGE, "Seconds", "Age of the last frame on the quietest live channel."
    ),
    "DeliveryLag": MetricSpec(
        Kind.TIMING, "Milliseconds", "Time from an event's receipt to the write of its state."
    ),
    "SinkLatency": MetricSpec(
        Kind.TIMING, "Milliseconds", "Duration of one batch write to DynamoDB or SQS."
    ),
    "Reconnects": MetricSpec(Kind.COUNTER, "Count", "WebSocket reconnect attempts."),
    "ChannelsCreated": MetricSpec(Kind.COUNTER, "Count", "Notification channels created."),
    "ChannelRotations": MetricSpec(
        Kind.COUNTER, "Count", "Channels replaced before expiry (make before break)."
    ),
    "LiveChannels": MetricSpec(Kind.GAUGE, "Count", "Channels with an open, live WebSocket."),
    "TopicsPerChannel": MetricSpec(Kind.GAUGE, "Count", "Permitted topics on the fullest channel."),
    "RejectedTopics": MetricSpec(Kind.COUNTER, "Count", "Topics a subscription rejected."),
    "Gaps": MetricSpec(Kind.COUNTER, "Count", "Periods with no socket open, recorded."),
    "BackfilledConversations": MetricSpec(
        Kind.COUNTER, "Count", "Conversations fetched from REST after a gap."
    ),
    "BackfillFailures": MetricSpec(Kind.COUNTER, "Count", "Back-fill requests that failed."),
    "DeliveryFailures": MetricSpec(
        Kind.COUNTER, "Count", "Messages not delivered after the retry budget."
    ),
}


class Metrics:
    """A thread-safe registry of counters, gauges and timings, flushed as EMF lines.

    Recording an unknown name, or a name with the wrong method, raises
    ``ValueError``: a misspelt metric would otherwise vanish from every alarm.
    A value that is not finite (NaN or infinity) is dropped, because EMF has
    no way to write it; a gauge set to one is unset until it is set again.
    """

    def __init__(
        self,
        catalogue: Mapping[str, MetricSpec] = CATALOGUE,
        namespace: str = NAMESPACE,
        service: str = SERVICE,
        rng: random.Random | None = None,
    ) -> None:
        if not 1 <= len(namespace) <= MAX_NAMESPACE_LENGTH:
            raise ValueError(
                f"Metric namespace {namespace!r} must have 1 to {MAX_NAMESPACE_LENGTH} characters."
            )
        if len(catalogue) > MAX_METRICS:
            raise ValueError(
                f"A catalogue of {len(catalogue)} metrics exceeds the EMF limit of "
                f"{MAX_METRICS} per line; split it."
            )
        for name, spec in catalogue.items():
            if spec.unit not in UNITS:
                raise ValueError(f"Metric {name} has unit {spec.unit!r}, not a CloudWatch unit.")
        self._catalogue = dict(catalogue)
        self._namespace = namespace
        self._service = service
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._counters = {
            name: 0.0 for name, spec in self._catalogue.items() if spec.kind is Kind.COUNTER
        }
        # Counter sums since start, which flushes do not reset (for summaries).
        self._totals = dict(self._counters)
        self._gauges: dict[str, float] = {}
        self._timings: dict[str, list[float]] = {}
        self._timing_counts: dict[str, int] = {}

    def increment(self, name: str, value: float = 1) -> None:
        """Add ``value`` to the counter ``name``."""
        self._check(name, Kind.COUNTER)
        if not math.isfinite(value):
            return
        with self._lock:
            self._counters[name] += value
            self._totals[name] += value

    def totals(self) -> dict[str, float]:
        """Return every counter's sum since start, unaffected by flushes."""
        with self._lock:
            return dict(self._totals)

    def set_gauge(self, name: str, value: float) -> None:
        """Set the gauge ``name`` to ``value`` until it is set again."""
        self._check(name, Kind.GAUGE)
        with self._lock:
            if math.isfinite(value):
                self._gauges[name] = value
            else:
                self._gauges.pop(name, None)

    def observe(self, name: str, value: float) -> None:
        """Record one value of the timing ``name``, in the unit its spec names."""
        self._check(name, Kind.TIMING)
        if not math.isfinite(value):
            return
        with self._lock:
            samples = self._timings.setdefault(name, [])
            seen = self._timing_counts.get(name, 0) + 1
            self._timing_counts[name] = seen

            # Reservoir sampling (Vitter's algorithm R): each of the ``seen``
            # values has the same chance to be among the MAX_VALUES kept.
            if len(samples) < MAX_VALUES:
                samples.append(value)
            else:
                slot = self._rng.randrange(seen)
                if slot < MAX_VALUES:
                    samples[slot] = value

    def flush(self, now: float) -> str | None:
        """Return one EMF line for everything recorded so far, and reset the counters.

        ``now`` is wall-clock time in seconds since the Unix epoch. Returns None
        when there is nothing to write: no gauge was ever set, and no counter or
        timing was recorded since the last flush.
        """
        with self._lock:
            counters = dict(self._counters)
            gauges = dict(self._gauges)
            timings = {name: list(values) for name, values in self._timings.items() if values}
            for name in self._counters:
                self._counters[name] = 0.0
            self._timings.clear()
            self._timing_counts.clear()

        if not gauges and not timings and not any(counters.values()):
            return None

        values: dict[str, float | list[float]] = {**counters, **gauges, **timings}
        names = [name for name in self._catalogue if name in values]
        document: dict[str, Any] = {
            "_aws": {
                "Timestamp": int(now * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": self._namespace,
                        "Dimensions": [["Service"]],
                        "Metrics": [
                            {"Name": name, "Unit": self._catalogue[name].unit} for name in names
                        ],
                    }
                ],
            },
            "Service": self._service,
        }
        for name in names:
            document[name] = _json_number(values[name])
        return orjson.dumps(document).decode()

    def emit(self, now: float, stream: TextIO | None = None) -> None:
        """Write the line ``flush`` returns to ``stream`` (stdout by default), if any.

        The line bypasses the logging formatter on purpose: CloudWatch Logs
        extracts metrics only from a log event that is exactly one EMF object.
        """
        line = self.flush(now)
        if line is None:
            return
        out = stream or sys.stdout
        out.write(line + "\n")
        out.flush()

    def _check(self, name: str, kind: Kind) -> None:
        spec = self._catalogue.get(name)
        if spec is None:
            raise ValueError(f"Unknown metric {name!r}; add it to the metric catalogue first.")
        if spec.kind is not kind:
            raise ValueError(f"Metric {name} is a {spec.kind.value}, not a {kind.value}.")


def _json_number(value: float | list[float]) -> int | float | list[int | float]:
    # Whole numbers are written as integers, so counters read as counts.
    if isinstance(value, list):
        return [_whole(item) for item in value]
    return _whole(value)


def _whole(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def validate_emf(document: object) -> list[str]:
    """Return every way ``document`` breaks the EMF specification; empty when valid.

    ``document`` is one decoded log line. Checks the ``_aws`` metadata, each
    metric directive, and that every dimension and metric it names is a
    member of the root object with a value of the right type.
    """
    if not isinstance(document, dict):
        return [f"The root must be a JSON object, not {type(document).__name__}."]
    metadata = document.get("_aws")
    if not isinstance(metadata, dict):
        return ["The root must have an object member `_aws`."]

    problems: list[str] = []
    timestamp = metadata.get("Timestamp")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp < 0:
        problems.append(f"`_aws.Timestamp` must be epoch milliseconds, not {timestamp!r}.")

    directives = metadata.get("CloudWatchMetrics")
    if not isinstance(directives, list) or not directives:
        problems.append("`_aws.CloudWatchMetrics` must be a non-empty array.")
        return problems
    for index, directive in enumerate(directives):
        problems.extend(_validate_directive(document, directive, f"CloudWatchMetrics[{index}]"))
    return problems


def _validate_directive(document: dict[str, Any], directive: object, where: str) -> list[str]:
    if not isinstance(directive, dict):
        return [f"{where} must be an object."]
    problems: list[str] = []

    namespace = directive.get("Namespace")
    if not isinstance(namespace, str) or not 1 <= len(namespace) <= MAX_NAMESPACE_LENGTH:
        problems.append(f"{where}.Namespace must be a string of 1 to 255 characters.")

    dimension_sets = directive.get("Dimensions")
    if not isinstance(dimension_sets, list):
        problems.append(f"{where}.Dimensions must be an array of dimension sets.")
        dimension_sets = []
    for set_index, dimension_set in enumerate(dimension_sets):
        if not isinstance(dimension_set, list) or len(dimension_set) > MAX_DIMENSIONS:
            problems.append(
                f"{where}.Dimensions[{set_index}] must be an array of at most "
                f"{MAX_DIMENSIONS} names."
            )
            continue
        for dimension in dimension_set:
            if not isinstance(document.get(dimension), str):
                problems.append(f"Dimension {dimension!r} must be a string member of the root.")

    metrics = directive.get("Metrics")
    if not isinstance(metrics, list) or not 1 <= len(metrics) <= MAX_METRICS:
        problems.append(f"{where}.Metrics must be an array of 1 to {MAX_METRICS} metrics.")
        metrics = []
    for metric in metrics:
        problems.extend(_validate_metric(document, metric, where))
    return problems


def _validate_metric(document: dict[str, Any], metric: object, where: str) -> list[str]:
    if not isinstance(metric, dict) or not isinstance(metric.get("Name"), str):
        return [f"{where}.Metrics has an entry without a string Name: {metric!r}."]
    name = metric["Name"]
    problems: list[str] = []

    unit = metric.get("Unit", "None")
    if unit not in UNITS:
        problems.append(f"Metric {name} has unit {unit!r}, not a CloudWatch unit.")
    resolution = metric.get("StorageResolution", 60)
    if resolution not in (1, 60):
        problems.append(f"Metric {name} has StorageResolution {resolution!r}, not 1 or 60.")

    value = document.get(name)
    if isinstance(value, list):
        if not 1 <= len(value) <= MAX_VALUES or not all(_is_number(item) for item in value):
            problems.append(f"Metric {name} must have 1 to {MAX_VALUES} numeric values.")
    elif not _is_number(value):
        problems.append(f"Metric {name} must be a number member of the root, not {value!r}.")
    return problems


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)

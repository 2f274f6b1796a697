"""The EMF metrics registry, and its names against the code, the alarms and the dashboard."""

from __future__ import annotations

import ast
import io
import math
import random
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest

from genesys_stream.metrics import (
    CATALOGUE,
    MAX_VALUES,
    NAMESPACE,
    SERVICE,
    Kind,
    Metrics,
    MetricSpec,
    validate_emf,
)
from tests.infra.terraform import MODULE_FILES, load_module

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIRS = ("actors", "handlers", "genesys", "genesys_stream", "stores", "simulator")
KIND_OF_METHOD = {"increment": Kind.COUNTER, "set_gauge": Kind.GAUGE, "observe": Kind.TIMING}
NOW = 1_767_225_600.5


def decode(line: str | None) -> dict[str, Any]:
    assert line is not None
    document = orjson.loads(line)
    assert isinstance(document, dict)
    return document


def metric_names(document: dict[str, Any]) -> list[str]:
    directive = document["_aws"]["CloudWatchMetrics"][0]
    return [metric["Name"] for metric in directive["Metrics"]]


def test_flush_line_is_valid_emf() -> None:
    metrics = Metrics()
    metrics.increment("EventsIn", 3)
    metrics.set_gauge("LiveChannels", 2)
    metrics.observe("SinkLatency", 12.5)

    document = decode(metrics.flush(NOW))

    assert validate_emf(document) == []
    assert document["_aws"]["Timestamp"] == 1_767_225_600_500
    assert document["_aws"]["CloudWatchMetrics"][0]["Namespace"] == NAMESPACE
    assert document["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Service"]]
    assert document["Service"] == SERVICE
    assert document["EventsIn"] == 3
    assert document["LiveChannels"] == 2
    assert document["SinkLatency"] == [12.5]


def test_flush_declares_units() -> None:
    metrics = Metrics()
    metrics.set_gauge("HeartbeatAge", 31.5)
    metrics.observe("DeliveryLag", 250)

    directive = decode(metrics.flush(NOW))["_aws"]["CloudWatchMetrics"][0]
    units = {metric["Name"]: metric["Unit"] for metric in directive["Metrics"]}

    assert units["HeartbeatAge"] == "Seconds"
    assert units["DeliveryLag"] == "Milliseconds"
    assert units["EventsIn"] == "Count"


def test_flush_is_one_line() -> None:
    metrics = Metrics()
    metrics.increment("Reconnects")

    line = metrics.flush(NOW)

    assert line is not None
    assert "\n" not in line


def test_counters_reset_after_flush() -> None:
    metrics = Metrics()
    metrics.increment("EventsIn", 5)
    metrics.set_gauge("LiveChannels", 1)
    metrics.flush(NOW)

    document = decode(metrics.flush(NOW + 60))

    assert document["EventsIn"] == 0
    assert validate_emf(document) == []


def test_counters_written_every_flush() -> None:
    metrics = Metrics()
    metrics.increment("Gaps")

    document = decode(metrics.flush(NOW))

    counters = {name for name, spec in CATALOGUE.items() if spec.kind is Kind.COUNTER}
    assert counters <= set(metric_names(document))


def test_gauges_persist_across_flushes() -> None:
    metrics = Metrics()
    metrics.set_gauge("TopicsPerChannel", 40)
    metrics.flush(NOW)

    document = decode(metrics.flush(NOW + 60))

    assert document["TopicsPerChannel"] == 40


def test_timings_clear_after_flush() -> None:
    metrics = Metrics()
    metrics.observe("DeliveryLag", 100)
    metrics.increment("EventsIn")
    metrics.flush(NOW)
    metrics.increment("EventsIn")

    document = decode(metrics.flush(NOW + 60))

    assert "DeliveryLag" not in document
    assert "DeliveryLag" not in metric_names(document)


def test_timings_keep_at_most_max_values() -> None:
    metrics = Metrics(rng=random.Random(7))
    for value in range(10 * MAX_VALUES):
        metrics.observe("SinkLatency", value)

    document = decode(metrics.flush(NOW))

    assert len(document["SinkLatency"]) == MAX_VALUES
    assert len(set(document["SinkLatency"])) == MAX_VALUES
    assert validate_emf(document) == []


def test_timing_sample_spans_all_values() -> None:
    metrics = Metrics(rng=random.Random(7))
    for value in range(10 * MAX_VALUES):
        metrics.observe("SinkLatency", value)

    sample = decode(metrics.flush(NOW))["SinkLatency"]

    # A reservoir keeps late values too, not only the first MAX_VALUES.
    assert max(sample) >= MAX_VALUES


def test_non_finite_values_are_dropped() -> None:
    metrics = Metrics()
    metrics.increment("EventsIn", 2)
    metrics.increment("EventsIn", math.nan)
    metrics.set_gauge("LiveChannels", 1)
    metrics.set_gauge("HeartbeatAge", 12)
    metrics.set_gauge("HeartbeatAge", math.inf)
    metrics.observe("SinkLatency", 5)
    metrics.observe("SinkLatency", -math.inf)

    document = decode(metrics.flush(NOW))

    assert validate_emf(document) == []
    assert document["EventsIn"] == 2
    assert "HeartbeatAge" not in document
    assert document["SinkLatency"] == [5]


def test_flush_without_data_returns_none() -> None:
    metrics = Metrics()

    assert metrics.flush(NOW) is None


def test_flush_after_only_zero_counters_returns_none() -> None:
    metrics = Metrics()
    metrics.increment("EventsIn")
    metrics.flush(NOW)

    assert metrics.flush(NOW + 60) is None


def test_emit_writes_line_to_stream() -> None:
    metrics = Metrics()
    metrics.increment("EventsIn")
    stream = io.StringIO()

    metrics.emit(NOW, stream)

    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert stream.getvalue().endswith("\n")
    assert validate_emf(orjson.loads(lines[0])) == []


def test_emit_without_data_writes_nothing() -> None:
    stream = io.StringIO()

    Metrics().emit(NOW, stream)

    assert stream.getvalue() == ""


def test_unknown_metric_raises() -> None:
    metrics = Metrics()

    with pytest.raises(ValueError, match="Unknown metric 'EventIn'"):
        metrics.increment("EventIn")


def test_wrong_kind_raises() -> None:
    metrics = Metrics()

    with pytest.raises(ValueError, match="LiveChannels is a gauge, not a counter"):
        metrics.increment("LiveChannels")


def test_catalogue_with_bad_unit_raises() -> None:
    catalogue = {"Odd": MetricSpec(Kind.COUNTER, "Furlongs", "A unit CloudWatch lacks.")}

    with pytest.raises(ValueError, match="not a CloudWatch unit"):
        Metrics(catalogue)


def test_increments_from_threads_all_count() -> None:
    metrics = Metrics()
    start = threading.Barrier(8)

    def work() -> None:
        start.wait(timeout=10)
        for _ in range(1000):
            metrics.increment("EventsIn")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert decode(metrics.flush(NOW))["EventsIn"] == 8000


def test_catalogue_fits_one_line() -> None:
    metrics = Metrics()
    for name, spec in CATALOGUE.items():
        if spec.kind is Kind.COUNTER:
            metrics.increment(name)
        elif spec.kind is Kind.GAUGE:
            metrics.set_gauge(name, 1)
        else:
            metrics.observe(name, 1)

    document = decode(metrics.flush(NOW))

    assert validate_emf(document) == []
    assert set(metric_names(document)) == set(CATALOGUE)


# validate_emf itself: each broken document yields a problem.


def valid_document() -> dict[str, Any]:
    return {
        "_aws": {
            "Timestamp": 1,
            "CloudWatchMetrics": [
                {
                    "Namespace": "N",
                    "Dimensions": [["Service"]],
                    "Metrics": [{"Name": "M", "Unit": "Count"}],
                }
            ],
        },
        "Service": "s",
        "M": 1,
    }


def test_validate_accepts_valid_document() -> None:
    assert validate_emf(valid_document()) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: d.pop("_aws"), "`_aws`"),
        (lambda d: d["_aws"].update(Timestamp="now"), "Timestamp"),
        (lambda d: d["_aws"].update(CloudWatchMetrics=[]), "non-empty array"),
        (lambda d: d["_aws"]["CloudWatchMetrics"][0].update(Namespace=""), "Namespace"),
        (lambda d: d.pop("Service"), "Dimension 'Service'"),
        (lambda d: d["_aws"]["CloudWatchMetrics"][0].update(Metrics=[]), "1 to 100 metrics"),
        (lambda d: d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0].update(Unit="Hz"), "unit"),
        (
            lambda d: d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0].update(StorageResolution=5),
            "StorageResolution",
        ),
        (lambda d: d.pop("M"), "number member"),
        (lambda d: d.update(M="1"), "number member"),
        (lambda d: d.update(M=True), "number member"),
        (lambda d: d.update(M=list(range(101))), "numeric values"),
    ],
)
def test_validate_reports_problem(change: Any, problem: str) -> None:
    document = valid_document()
    change(document)

    problems = validate_emf(document)

    assert any(problem in text for text in problems), problems


def test_validate_rejects_non_object() -> None:
    assert validate_emf([1, 2]) != []


# The names the code records and the names CloudWatch alarms and graphs use.


def recorded_names() -> dict[str, set[Kind]]:
    """Return each literal metric name the source records, with the kinds it is recorded as."""
    names: dict[str, set[Kind]] = {}
    for directory in SOURCE_DIRS:
        for path in sorted((ROOT / directory).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in KIND_OF_METHOD
                    and "metrics" in ast.unparse(node.func.value)
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)
                ):
                    continue
                kind = KIND_OF_METHOD[node.func.attr]
                names.setdefault(node.args[0].value, set()).add(kind)
    return names


def alarmed_names() -> set[str]:
    alarms = load_module(MODULE_FILES).resources["aws_cloudwatch_metric_alarm"]
    return {
        alarm["metric_name"]
        for alarm in alarms.values()
        if alarm["namespace"] == "${local.metric_namespace}"
    }


def graphed_names() -> set[str]:
    widgets = load_module(MODULE_FILES).locals["dashboard_service_widgets"]
    return {name for widget in widgets for name in widget["metrics"]}


def test_recorded_names_are_in_catalogue() -> None:
    for name, kinds in recorded_names().items():
        assert name in CATALOGUE, f"{name} is recorded but not in the catalogue"
        assert kinds == {CATALOGUE[name].kind}, f"{name} is recorded as {kinds}"


def test_alarmed_names_are_in_catalogue() -> None:
    names = alarmed_names()

    assert {"LiveChannels", "HeartbeatAge", "Reconnects", "BackfillFailures"} <= names
    assert names <= set(CATALOGUE)


def test_dashboard_graphs_whole_catalogue() -> None:
    assert graphed_names() == set(CATALOGUE)


def test_terraform_namespace_matches() -> None:
    locals_ = load_module(MODULE_FILES).locals

    assert locals_["metric_namespace"] == NAMESPACE
    assert locals_["metric_service"] == SERVICE

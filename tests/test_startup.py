"""Start-up against stores that are missing, and the health file's edge cases."""

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from genesys_stream.cli import check_health
from genesys_stream.config import load
from genesys_stream.runner import run_service
from simulator import Simulator

QUEUE_ID = "0e185c02-aca1-4a72-82ea-2e78684e2c89"


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    with Simulator() as sim:
        yield sim


def org(sim: Simulator, tmp_path: Path) -> dict[str, str]:
    return {
        "GENESYS_LOGIN_URL": sim.base_url,
        "GENESYS_API_URL": sim.base_url,
        "GENESYS_CLIENT_ID": sim.client_id,
        "GENESYS_CLIENT_SECRET": sim.client_secret,
        "GENESYS_QUEUE_IDS": QUEUE_ID,
        "STREAM_LOCAL_DIR": str(tmp_path / "local"),
        "STREAM_HEALTH_FILE": str(tmp_path / "health.json"),
        "AWS_REGION": "us-east-1",
    }


def test_missing_table_stops_startup(
    simulator: Simulator,
    tmp_path: Path,
    aws_endpoint: str,
    sqs_queue: Callable[..., str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    environ = {
        **org(simulator, tmp_path),
        "STREAM_TABLE_NAME": "no-such-table",
        "STREAM_QUEUE_URL": sqs_queue(),
    }
    stop = threading.Event()

    code = run_service(load(environ), stop)

    error = capsys.readouterr().err
    assert code == 1
    assert "Could not open the stores" in error
    assert "no-such-table" in error
    assert "Traceback" not in error


def test_missing_queue_stops_startup(
    simulator: Simulator,
    tmp_path: Path,
    aws_endpoint: str,
    dynamodb_table: Callable[..., str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    environ = {
        **org(simulator, tmp_path),
        "STREAM_TABLE_NAME": dynamodb_table(),
        "STREAM_QUEUE_URL": f"{aws_endpoint}/123456789012/no-such-queue.fifo",
    }
    stop = threading.Event()

    code = run_service(load(environ), stop)

    error = capsys.readouterr().err
    assert code == 1
    assert "Could not open the stores" in error
    assert "Traceback" not in error


@pytest.mark.parametrize(
    "content",
    [b"[1, 2]", b'{"time": "abc"}', b'{"time": NaN}', b'{"healthy": true}', b"null"],
)
def test_health_rejects_foreign_files(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "health.json"
    path.write_bytes(content)

    verdict, detail = check_health(path, 1_000.0)

    assert verdict == "unhealthy"
    assert "reason" in detail


def test_health_after_stop_not_stuck(tmp_path: Path) -> None:
    path = tmp_path / "health.json"
    document: dict[str, Any] = {"time": 1_000.0, "stopped": True, "ready": False, "healthy": True}
    path.write_bytes(orjson.dumps(document))

    verdict, detail = check_health(path, 5_000.0)

    assert verdict == "not-ready"
    assert detail["reason"] == "the service has stopped"

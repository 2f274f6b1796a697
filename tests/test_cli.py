"""The ``genesys-stream`` command, called in-process through ``cli.main``."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from genesys_stream import cli
from genesys_stream.config import SETTINGS
from handlers.merge import merge
from handlers.normalize import from_snapshot
from handlers.records import encode_state
from stores.local import LocalStateStore

SAMPLE = Path(__file__).parent / "samples" / "conversation-user-topic-callback-connected.json"
SAMPLE_ID = "ffff-ffff-ffff-ffff"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset every configuration variable, so only each test's own values count."""
    for setting in SETTINGS:
        monkeypatch.delenv(setting.env, raising=False)


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Put back the root logger, which ``run`` and ``demo`` point at the captured stdout."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def fill_store(directory: Path, count: int) -> list[str]:
    """Store the sample conversation under ``count`` ids through the store API; return them."""
    body = orjson.loads(SAMPLE.read_bytes())["eventBody"]
    store = LocalStateStore(directory / "state.sqlite3")
    ids = [SAMPLE_ID] + [f"conversation-{index}" for index in range(1, count)]
    for conversation_id in ids:
        state = merge(None, from_snapshot({**body, "id": conversation_id}, 0.0)).state
        store.save(encode_state(state, 1_767_225_600.0, 86400), expected_revision=None)
    store.close()
    return ids


def write_health(path: Path, **fields: Any) -> None:
    path.write_bytes(orjson.dumps({"time": time.time(), "ready": True, "healthy": True, **fields}))


# Help and configuration errors


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--help"])

    assert exited.value.code == 0
    assert "usage: genesys-stream" in capsys.readouterr().out


def test_command_help_lists_settings(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["run", "--help"])
    out = capsys.readouterr().out

    assert exited.value.code == 0
    for setting in SETTINGS:
        assert setting.flag in out
        assert setting.env in out


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main([])

    assert code == 2
    assert "commands:" in capsys.readouterr().out


def test_bad_config_exits_two(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("STREAM_FORWARD_EVENTS", "conversation.started, conversation.ended")

    code = cli.main(["state", "list", "--local-dir", str(tmp_path)])
    captured = capsys.readouterr()

    assert code == 2
    assert captured.out == ""
    assert captured.err.startswith("genesys-stream: STREAM_FORWARD_EVENTS=")
    assert "is invalid" in captured.err


def test_bad_flag_exits_two(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["health", "--merge-shards", "0"])

    assert code == 2
    assert "--merge-shards='0' is invalid." in capsys.readouterr().err


# state get and state list


def test_state_get_prints_item(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fill_store(tmp_path, 1)

    code = cli.main(["state", "get", SAMPLE_ID, "--local-dir", str(tmp_path)])
    item = orjson.loads(capsys.readouterr().out)

    assert code == 0
    assert item["conversationId"] == SAMPLE_ID
    assert item["state"] == "active"
    assert item["revision"] == 1
    assert len(item["participants"]) == 5


def test_state_get_missing_exits_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fill_store(tmp_path, 1)

    code = cli.main(["state", "get", "no-such-id", "--local-dir", str(tmp_path)])
    captured = capsys.readouterr()

    assert code == 1
    assert captured.out == ""
    assert "conversation no-such-id is not in the store" in captured.err


def test_state_list_prints_summaries(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ids = fill_store(tmp_path, 3)

    code = cli.main(["state", "list", "--limit", "2", "--local-dir", str(tmp_path)])
    lines = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]

    assert code == 0
    assert len(lines) == 2
    assert {line["conversationId"] for line in lines} <= set(ids)
    assert set(lines[0]) == {
        "conversationId",
        "state",
        "revision",
        "startTime",
        "endTime",
        "mediaTypes",
    }


def test_state_list_rejects_bad_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["state", "list", "--limit", "0", "--local-dir", str(tmp_path)])

    assert code == 2
    assert "--limit 0 is invalid" in capsys.readouterr().err


# health


def health(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = cli.main(["health", "--health-file", str(path)])
    verdict: dict[str, Any] = orjson.loads(capsys.readouterr().out)
    return code, verdict


def test_health_missing_file_not_ready(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, verdict = health(tmp_path / "health.json", capsys)

    assert code == 1
    assert verdict["status"] == "not-ready"
    assert "no health file" in verdict["reason"]


def test_health_stale_file_unhealthy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "health.json"
    write_health(path, time=time.time() - cli.HEALTH_STALE_AFTER - 5)

    code, verdict = health(path, capsys)

    assert code == 1
    assert verdict["status"] == "unhealthy"
    assert "old" in verdict["reason"]


def test_health_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "health.json"
    path.write_text("{not json")

    code, verdict = health(path, capsys)

    assert code == 1
    assert verdict["status"] == "unhealthy"


def test_health_channel_down_unhealthy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "health.json"
    write_health(path, healthy=False, ready=False)

    code, verdict = health(path, capsys)

    assert code == 1
    assert verdict["status"] == "unhealthy"


def test_health_not_ready_yet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "health.json"
    write_health(path, ready=False)

    code, verdict = health(path, capsys)

    assert code == 1
    assert verdict["status"] == "not-ready"


def test_health_ready_exits_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "health.json"
    write_health(path, channels=1)

    code, verdict = health(path, capsys)

    assert code == 0
    assert verdict["status"] == "healthy"
    assert verdict["channels"] == 1


# demo


def test_demo_matches_truth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Twenty conversations at 200 times real time: a few seconds of real time."""
    started = time.monotonic()

    code = cli.main(
        ["demo", "--conversations", "20", "--speed", "200", "--local-dir", str(tmp_path)]
    )
    out = capsys.readouterr().out

    assert code == 0
    assert "states matching the truth            20 of 20" in out
    assert "Every stored conversation state matches the simulator's truth." in out
    assert time.monotonic() - started < 20


def test_demo_rejects_bad_speed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["demo", "--speed", "0", "--local-dir", str(tmp_path)])

    assert code == 2
    assert "--speed 0 is invalid" in capsys.readouterr().err

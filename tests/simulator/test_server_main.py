"""``python -m simulator``: prints its endpoints, serves them, stops cleanly on SIGINT."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
WAIT = 10.0


def test_main_serves_and_stops_on_sigint() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--conversations", "2", "--window", "60"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        with ThreadPoolExecutor(1) as reader:
            line = reader.submit(process.stdout.readline).result(WAIT)
        endpoints = json.loads(line)
        token = requests.post(
            endpoints["login_url"] + "/oauth/token",
            auth=(endpoints["client_id"], endpoints["client_secret"]),
            data={"grant_type": "client_credentials"},
            timeout=WAIT,
        )

        process.send_signal(signal.SIGINT)
        code = process.wait(WAIT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(WAIT)

    assert endpoints["ws_url"].startswith("ws://127.0.0.1:")
    assert token.status_code == 200
    assert code == 0

"""A minimal loopback token endpoint, for OAuth tests that need exact control of the reply."""

from dataclasses import dataclass, field

import orjson


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class TokenEndpoint:
    """Replies to every POST with ``status`` and ``body``, and records each request."""

    url: str = ""
    status: int = 200
    body: bytes = b""
    received: list[RecordedRequest] = field(default_factory=list)

    def reply(self, status: int, body: object) -> None:
        self.status = status
        self.body = orjson.dumps(body)

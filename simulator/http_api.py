"""The simulated login and API hosts, on one HTTP server.

``Api`` maps one request to one response with no I/O of its own, so every
route reads as a short function. ``HttpServer`` is the stdlib threading HTTP
server around it. Paths served:

- ``POST /oauth/token`` (client credentials, HTTP Basic);
- ``/api/v2/notifications/channels`` and its subscriptions;
- ``GET /api/v2/conversations[/{id}]``,
  ``POST /api/v2/analytics/conversations/details/query``,
  ``GET /api/v2/routing/queues``, ``GET /api/v2/users``, served from the
  loaded truth;
- ``POST /sim/control/<fault>`` with the ``FaultControl`` method's keyword
  arguments as a JSON object (``{"code": 1001, "channel_id": "..."}``), plus
  ``GET /sim/control/counts`` and ``GET /sim/control/channels``: fault
  injection for chaos runs from another process.

PUT and POST of subscriptions both accept ``ignoreErrors=true``. Without it,
one Rejected topic fails the request with 400 and changes nothing.

Errors carry the Genesys error body (``message``, ``code``, ``status``,
``contextId``, ``details``, ``errors``).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import math
import re
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

import orjson

from simulator.org import Channel, SubscriptionError, Token

if TYPE_CHECKING:
    from simulator.server import Simulator

log = logging.getLogger(__name__)

CONTROL_PREFIX = "/sim/control/"
MAX_BODY_BYTES = 10 * 2**20
# Seconds an idle keep-alive connection is held before the server closes it.
IDLE_TIMEOUT = 30.0

ANALYTICS_MAX_PAGE_SIZE = 100
LIST_MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 25

_ERROR_CODES = {
    400: "bad.request",
    401: "bad.credentials",
    403: "missing.permissions",
    404: "not.found",
    405: "method.not.allowed",
    409: "conflict",
    413: "request.entity.too.large",
    429: "too.many.requests",
    500: "internal.server.error",
    502: "bad.gateway",
    503: "service.unavailable",
    504: "gateway.timeout",
}

# Faults the control API exposes, by path name.
_CONTROL_FAULTS = (
    "drop_sockets",
    "close_sockets",
    "stop_heartbeats",
    "resume_heartbeats",
    "delay_pongs",
    "drop_pongs",
    "send_socket_closing",
    "send_404",
    "evict_channel",
    "send_no_longer_subscribed",
    "revoke_tokens",
    "fail_next",
)


@dataclass(frozen=True)
class ApiRequest:
    method: str
    path: str
    query: Mapping[str, Sequence[str]]
    headers: Mapping[str, str]
    body: bytes = b""

    def param(self, name: str, default: str | None = None) -> str | None:
        """Return a query parameter, matching its name without regard to case."""
        for key, values in self.query.items():
            if key.lower() == name.lower() and values:
                return values[0]
        return default

    def header(self, name: str) -> str:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return ""


@dataclass
class ApiResponse:
    status: int
    body: Any = None  # JSON-compatible, or None for no body
    headers: dict[str, str] = field(default_factory=dict)


class BadRequest(Exception):
    """A request that the API rejects with 400 and this message."""


def error(status: int, message: str, headers: dict[str, str] | None = None) -> ApiResponse:
    body = {
        "message": message,
        "code": _ERROR_CODES.get(status, "error"),
        "status": status,
        "contextId": str(uuid.uuid4()),
        "details": [],
        "errors": [],
    }
    return ApiResponse(status, body, headers or {})


def iso_time(epoch: float) -> str:
    """Format epoch seconds as ISO-8601 UTC with milliseconds, as the API does."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_time(text: str) -> float:
    """Parse an ISO-8601 time (UTC when it names no zone) to epoch seconds."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadRequest(
            f"Invalid time {text!r}: use ISO-8601, e.g. 2026-01-01T00:00:00.000Z."
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


Route = Callable[[ApiRequest, re.Match[str]], ApiResponse]


class Api:
    """Route one request to its handler; safe to call from many threads at once."""

    def __init__(self, sim: Simulator) -> None:
        self._sim = sim
        channel = r"/api/v2/notifications/channels/(?P<channel>[^/]+)"
        self._routes: list[tuple[str, re.Pattern[str], Route]] = [
            ("POST", re.compile(r"/oauth/token"), self._token),
            ("POST", re.compile(r"/api/v2/notifications/channels"), self._create_channel),
            ("GET", re.compile(r"/api/v2/notifications/channels"), self._list_channels),
            ("HEAD", re.compile(channel), self._head_channel),
            ("GET", re.compile(channel + "/subscriptions"), self._get_subscriptions),
            ("PUT", re.compile(channel + "/subscriptions"), self._replace_subscriptions),
            ("POST", re.compile(channel + "/subscriptions"), self._add_subscriptions),
            ("DELETE", re.compile(channel + "/subscriptions"), self._delete_subscriptions),
            ("GET", re.compile(r"/api/v2/conversations"), self._list_conversations),
            ("GET", re.compile(r"/api/v2/conversations/(?P<id>[^/]+)"), self._get_conversation),
            (
                "POST",
                re.compile(r"/api/v2/analytics/conversations/details/query"),
                self._analytics_query,
            ),
            ("GET", re.compile(r"/api/v2/routing/queues"), self._list_queues),
            ("GET", re.compile(r"/api/v2/users"), self._list_users),
            ("GET", re.compile(r"/sim/control/counts"), self._control_counts),
            ("GET", re.compile(r"/sim/control/channels"), self._control_channels),
            ("POST", re.compile(r"/sim/control/(?P<fault>[a-z_0-9]+)"), self._control_fault),
        ]

    def handle(self, request: ApiRequest) -> ApiResponse:
        """Return the response to ``request``: a matching injected failure, else its route's."""
        is_control = request.path.startswith(CONTROL_PREFIX)
        if not is_control:
            failure = self._sim.faults.take_failure(request.method, request.path)
            if failure is not None:
                headers = {}
                if failure.retry_after is not None:
                    headers["Retry-After"] = _seconds_header(failure.retry_after)
                response = error(failure.status, "Injected failure.", headers)
                self._sim.record_request(request.method, request.path, response.status)
                return response

        try:
            response = self._rate_limited(request) or self._route(request)
        except BadRequest as exc:
            response = error(400, str(exc))

        if not is_control:
            self._sim.record_request(request.method, request.path, response.status)
        return response

    def _rate_limited(self, request: ApiRequest) -> ApiResponse | None:
        """Return a 429 when the request's token is over the API rate limit, else None."""
        limiter = self._sim.api_limiter
        if limiter is None or not request.path.startswith("/api/"):
            return None
        token = self._bearer(request)
        if token is None:
            return None  # the route rejects it with 401
        wait = limiter.acquire(token.value)
        if wait is None:
            return None
        return _too_many_requests(wait)

    def _route(self, request: ApiRequest) -> ApiResponse:
        path_known = False
        for method, pattern, route in self._routes:
            match = pattern.fullmatch(request.path)
            if match is None:
                continue
            path_known = True
            if method == request.method:
                return route(request, match)
        if path_known:
            return error(405, f"{request.method} is not allowed on {request.path}.")
        return error(404, f"No resource at {request.path}.")

    # Authentication

    def _token(self, request: ApiRequest, match: re.Match[str]) -> ApiResponse:
        client_id = self._basic_client_id(request.header("Authorization"))
        if client_id is None:
            return ApiResponse(
                401,
                {
                    "error": "invalid_client",
                    "description": "Client authentication failed.",
                    "error_description": "Client authentication failed.",
                },
            )
        form = parse_qs(request.body.decode("utf-8", "replace"))
        grant_type = form.get("grant_type", [""])[0]
        if grant_type != "client_credentials":
            return ApiResponse(
                400,
                {
                    "error": "unsupported_grant_type",
                    "description": f"Grant type {grant_type!r} is not supported.",
                    "error_description": f"Grant type {grant_type!r} is not supported.",
                },
            )
        token = self._sim.issue_token(client_id)
        body = {
            "access_token": token.value,
            "token_type": "bearer",
            "expires_in": math.ceil(self._sim.token_ttl),
        }
        return ApiResponse(200, body)

    def _basic_client_id(self, authorization: str) -> str | None:
        """Return the client id if the Basic credentials are the simulator's, else None."""
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        client_id, _, secret = decoded.partition(":")
        expected_id, expected_secret = self._sim.client_id, self._sim.client_secret
        id_ok = hmac.compare_digest(client_id.encode(), expected_id.encode())
        secret_ok = hmac.compare_digest(secret.encode(), expected_secret.encode())
        return client_id if id_ok and secret_ok else None

    def _bearer(self, request: ApiRequest) -> Token | None:
        scheme, _, value = request.header("Authorization").partition(" ")
        if scheme.lower() != "bearer" or not value:
            return None
        return self._sim.authenticate(value.strip())

    @staticmethod
    def _unauthorized() -> ApiResponse:
        return error(401, "The token is missing, unknown or expired. Request a new token.")

    # Channels

    def _create_channel(self, request: ApiRequest, match: re.Match[str]) -> ApiResponse:
        token = self._bearer(request)
        if token is None:
            return self._unauthorized()
        limiter = self._sim.channel_limiter
        wait = None if limiter is None else limiter.acquire(token.client_id)
        if wait is not None:
            return _too_many_requests(wait)
        channel = self._sim.create_channel(token)
        return ApiResponse(200, self._channel_json(channel))

    def _list_channels(self, request: ApiRequest, match: re.Match[str]) -> ApiResponse:
        token = self._bearer(request)
        if token is None:
            return self._unauthorized()
        scope = (request.param("includechannels") or "token").lower()
        if scope == "token":
            channels = self._sim.org.channels_of(token=token.value)
        elif scope == "oauthclient":
            channels = self._sim.org.channels_of(client_id=token.client_id)
        else:
            raise BadRequest(f"Invalid includechannels {scope!r}: use token or oauthclient.")
        return ApiResponse(200, {"entities": [self._channel_json(c) for c in channels]})

    def _channel_json(self, channel: Channel) -> dict[str, str]:
        return {
            "connectUri": f"{self._sim.ws_url}/channels/{channel.id}",
            "id": channel.id,
            "expires": iso_time(channel.expires_at),
        }

    def _owned_channel(self, token: Token, channel_id: str) -> Channel | None:
        channel = self._sim.org.channel(channel_id)
        if channel is None or channel.client_id != token.client_id:
            return None
        return channel

    def _head_channel(self, request: ApiRequest, match: re.Match[str]) -> ApiResponse:
        token = self._bearer(request)
        if token is None:
            return ApiResponse(401)
        found = self._owned_channel(token, match["channel"]) is not None
        return ApiResponse(200 if found else 404)

    # Subscriptions

    def _get_subscriptions(self, request: ApiRequest, match: re.Match[str]) -> ApiResponse:
        return self._with_channel(
            request, match, lambda channel_id: self._sim.org.subscriptions(channel_id)
        )

    def _replace_subscriptions(self, request: ApiRequest, match: re.Match[str]) -> ApiResponse:
        topics = _topic_list(request.body)
        ignore = _flag(request.param("ignoreErrors"))
        return self._with_channel(
            request,
            match,
            lambda channel_id: self._sim.org.replace_subscriptions(
                channel_id, topics, ignore_errors=ignore
            ),
        )

    def _add_subscriptions(self, request: ApiRequest, match: re.Match[str]) -> ApiResponse:
        topics = _topic_list(request.body)
        ignore = _flag(request.param("ignoreErrors"))
        return self._with_channel(
            request,
            match,
            lambda channel_id: self._sim.org.add_subscriptions(
                channel_id, topics, ignore_errors=ignore
            ),
        )

    def _delete_subscriptions(self, request: ApiRequest, match: re.Match[str]) -> ApiResponse:
        token = self._bearer(request)
        if token is None:
            return self._unauthorized()
        channel_id = match["channel"]
        if self._owned_channel(token, channel_id) is None:
            return error(404, f"Channel {channel_id} was not found.")
        try:
            self._sim.org.delete_subscriptions(channel_id)
        except SubscriptionError as exc:
            return error(exc.status, exc.message)
        return ApiResponse(204)

    def _with_channel(
        self,
        request: ApiRequest,
        match: re.Match[str],
        action: Callable[[str], Sequence[Any]],
    ) -> ApiResponse:
        token = self._bearer(request)
        if token is None:
            return self._unauthorized()
        channel_id = match["channel"]
        if self._owned_channel(token, channel_id) is None:
            return error(404, f"Channel {channel_id} was not found.")
        try:
            subscriptions = action(channel_id)
        except SubscriptionError as exc:
            return error(exc.status, exc.message)
        return ApiResponse(200, {"entities": [sub.to_json() for sub in subscriptions]})

    # Conversations, analytics, queues and users, from the truth

    def _list_conversations(self, request: ApiRequest, match: re.Match[str]) -> ApiResponse:
        if self._bearer(request) is None:
            return self._unauthorized()
        # A client-credentials token is no user, so it has no conversations of its own.
        return ApiResponse(200, _page([], request, DEFAULT_PAGE_SIZE, LIST_MAX_PAGE_SIZE))

    def _get_conversation(self, request: ApiRequest, match: re.Match[str]) -> ApiResponse:
        if self._bearer(request) is None:
            return self._unauthorized()
        truth = self._sim.truth
        conversation_id = match["id"]
        found = None
        if truth is not None:
            found = truth.rest_conversation(conversation_id, at=self._sim.clock.time())
        if found is None:
            return error(404, f"Conversation {conversation_id} was not found.")
        return ApiResponse(200, found)

    def _analytics_query(self, request: ApiRequest, match: re.Match[str]) -> ApiResponse:
        if self._bearer(request) is None:
            return self._unauthorized()
        query = _json_object(request.body)
        start, end = _interval(query.get("interval"))
        paging = query.get("paging") or {}
        if not isinstance(paging, dict):
            raise BadRequest("Invalid paging: use an object with pageSize and pageNumber.")
        size = _positive_int(paging.get("pageSize", DEFAULT_PAGE_SIZE), "paging.pageSize")
        number = _positive_int(paging.get("pageNumber", 1), "paging.pageNumber")
        if size > ANALYTICS_MAX_PAGE_SIZE:
            raise BadRequest(
                f"Invalid paging.pageSize {size}: the maximum is {ANALYTICS_MAX_PAGE_SIZE}."
            )

        truth = self._sim.truth
        found = (
            []
            if truth is None
            else list(truth.analytics_query(start, end, at=self._sim.clock.time()))
        )
        page = found[(number - 1) * size : number * size]
        body: dict[str, Any] = {"totalHits": len(found)}
        # The real API leaves "conversations" out when a page is empty.
        if page:
            body["conversations"] = page
        return ApiResponse(200, body)

    def _list_queues(self, request: ApiRequest, match: re.Match[str]) -> ApiResponse:
        if self._bearer(request) is None:
            return self._unauthorized()
        truth = self._sim.truth
        queues = [] if truth is None else list(truth.queues())
        return ApiResponse(200, _page(queues, request, DEFAULT_PAGE_SIZE, LIST_MAX_PAGE_SIZE))

    def _list_users(self, request: ApiRequest, match: re.Match[str]) -> ApiResponse:
        if self._bearer(request) is None:
            return self._unauthorized()
        truth = self._sim.truth
        users = [] if truth is None else list(truth.users())
        return ApiResponse(200, _page(users, request, DEFAULT_PAGE_SIZE, LIST_MAX_PAGE_SIZE))

    # Control

    def _control_counts(self, request: ApiRequest, match: re.Match[str]) -> ApiResponse:
        return ApiResponse(200, self._sim.faults.counts)

    def _control_channels(self, request: ApiRequest, match: re.Match[str]) -> ApiResponse:
        channels = [
            {
                "id": state.id,
                "topics": list(state.topics),
                "rejected": list(state.rejected),
                "expires": iso_time(state.expires),
                "connected": state.connected,
            }
            for state in self._sim.channels.values()
        ]
        return ApiResponse(200, {"entities": channels})

    def _control_fault(self, request: ApiRequest, match: re.Match[str]) -> ApiResponse:
        name = match["fault"]
        if name not in _CONTROL_FAULTS:
            return error(
                404, f"Unknown fault {name!r}; known faults: {', '.join(_CONTROL_FAULTS)}."
            )
        arguments = _json_object(request.body) if request.body.strip() else {}
        fault = getattr(self._sim.faults, name)
        try:
            result = fault(**arguments)
        except (TypeError, ValueError) as exc:
            raise BadRequest(f"Invalid arguments for fault {name}: {exc}") from exc
        return ApiResponse(200, {"fault": name, "result": result})


def _too_many_requests(wait: float) -> ApiResponse:
    retry_after = str(max(1, math.ceil(wait)))
    message = f"Rate limit exceeded. Retry after {retry_after} s."
    return error(429, message, {"Retry-After": retry_after})


def _seconds_header(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


def _flag(value: str | None) -> bool:
    return value is not None and value.lower() == "true"


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}.") from exc


def _json_object(body: bytes) -> dict[str, Any]:
    value = _json(body)
    if not isinstance(value, dict):
        raise BadRequest("The request body must be a JSON object.")
    return value


def _topic_list(body: bytes) -> list[str]:
    value = _json(body)
    if not isinstance(value, list) or not all(
        isinstance(item, dict) and isinstance(item.get("id"), str) for item in value
    ):
        raise BadRequest('The body must be a JSON array of topics: [{"id": "<topic>"}, ...].')
    return [item["id"] for item in value]


def _interval(value: object) -> tuple[float, float]:
    if not isinstance(value, str) or value.count("/") != 1:
        raise BadRequest(f"Invalid interval {value!r}: use start/end in ISO-8601.")
    start_text, end_text = value.split("/")
    start, end = parse_time(start_text), parse_time(end_text)
    if end <= start:
        raise BadRequest(f"Invalid interval {value!r}: the end must be after the start.")
    return start, end


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadRequest(f"Invalid {name} {value!r}: use a whole number of 1 or more.")
    try:
        number = int(value)
    except ValueError as exc:
        raise BadRequest(f"Invalid {name} {value!r}: use a whole number of 1 or more.") from exc
    if number < 1:
        raise BadRequest(f"Invalid {name} {value!r}: use a whole number of 1 or more.")
    return number


def _page(
    entities: Sequence[Any], request: ApiRequest, default_size: int, max_size: int
) -> dict[str, Any]:
    """Cut one page out of ``entities`` as the API's paged listings do."""
    size = _positive_int(request.param("pageSize", str(default_size)), "pageSize")
    number = _positive_int(request.param("pageNumber", "1"), "pageNumber")
    if size > max_size:
        raise BadRequest(f"Invalid pageSize {size}: the maximum is {max_size}.")
    total = len(entities)
    page_count = math.ceil(total / size)

    def uri(page_number: int) -> str:
        return f"{request.path}?{urlencode({'pageSize': size, 'pageNumber': page_number})}"

    body: dict[str, Any] = {
        "entities": list(entities[(number - 1) * size : number * size]),
        "pageSize": size,
        "pageNumber": number,
        "total": total,
        "pageCount": page_count,
        "firstUri": uri(1),
        "selfUri": uri(number),
        "lastUri": uri(max(page_count, 1)),
    }
    if number < page_count:
        body["nextUri"] = uri(number + 1)
    if 1 < number <= page_count:
        body["previousUri"] = uri(number - 1)
    return body


class _Handler(BaseHTTPRequestHandler):
    """Read one HTTP request, hand it to ``Api``, write the response."""

    protocol_version = "HTTP/1.1"
    server: HttpServer
    timeout = IDLE_TIMEOUT
    # Headers and body go out in separate writes; with Nagle's algorithm on,
    # each keep-alive response would wait for the client's delayed ACK.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._write(error(413, f"The request body may have at most {MAX_BODY_BYTES} bytes."))
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        request = ApiRequest(
            method=self.command,
            path=url.path,
            query=parse_qs(url.query),
            headers=dict(self.headers.items()),
            body=body,
        )
        try:
            response = self.server.api.handle(request)
        except Exception:
            log.exception("http.handler_failed", extra={"method": self.command, "path": url.path})
            response = error(500, "The simulator failed on this request.")
        self._write(response)

    def _write(self, response: ApiResponse) -> None:
        payload = b"" if response.body is None else orjson.dumps(response.body)
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http.server_message", extra={"detail": format % args})


class HttpServer(ThreadingHTTPServer):
    """Threading HTTP server on loopback that serves ``api``."""

    daemon_threads = True

    def __init__(self, api: Api, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _Handler)
        self.api = api
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        port: int = self.server_address[1]
        return port

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, name="sim-http", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float) -> None:
        if self._thread is None:
            return
        self.shutdown()
        self.server_close()
        self._thread.join(timeout)
        self._thread = None

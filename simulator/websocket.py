"""The simulated streaming host: one WebSocket per channel at ``/channels/{id}``.

The server runs an asyncio loop in its own thread. Other threads (the clock
thread firing heartbeats and emissions, HTTP handlers, tests) never touch a
connection: they put frames and close requests on the socket's outbox with
``loop.call_soon_threadsafe``, and one writer task per socket sends them in
order. That keeps publishing from the clock thread quick and safe.

Protocol reproduced:

- data frames ``{"topicName", "version": "2", "eventBody", "metadata": {"CorrelationId"}}``;
- a heartbeat on ``channel.metadata`` every ``heartbeat_interval`` seconds of
  the simulator clock, counted from when the socket opened;
- a ``channel.metadata`` frame whose ``eventBody.message`` is ``"pong"`` in
  reply to ``{"message": "ping"}`` from the client;
- a second socket on a channel closes the first;
- no RFC 6455 keepalive pings from the server.

NOTE: what the real service does with a socket whose channel is gone is not
published. Here such a socket, and a socket opened on an unknown channel, gets
one ``{"result": "404", "message"}`` frame, or a ``v2.system.token_revoked.<id>``
frame when its token was revoked. After it, the socket stays open but
carries nothing at all (no heartbeat, no pong, no event), so a client that
misses the frame still notices the silence.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from genesys_stream.clock import Clock, Timer
from simulator.faults import FaultCounter
from simulator.org import GoneChannel

log = logging.getLogger(__name__)

HEARTBEAT_FRAME = orjson.dumps(
    {"topicName": "channel.metadata", "eventBody": {"message": "WebSocket Heartbeat"}}
).decode()
PONG_FRAME = orjson.dumps(
    {"topicName": "channel.metadata", "eventBody": {"message": "pong"}}
).decode()

# NOTE: the close code the real service uses when a second socket takes over a
# channel is not published; 1000 is a plausible choice.
REPLACED_CLOSE_CODE = 1000
# Frames queued for a client that reads too slowly before the server drops the
# connection (the client sees 1006) rather than buffer without bound.
MAX_QUEUED_FRAMES = 100_000
# Seconds to wait for the client's close frame before dropping the connection.
CLOSE_TIMEOUT = 2.0
# Seconds allowed for the server to start or stop.
LIFECYCLE_TIMEOUT = 5.0
# Seconds open sockets get to finish the closing handshake when the server stops.
SHUTDOWN_GRACE = 0.5

_CHANNEL_PATH = re.compile(r"/channels/([A-Za-z0-9_-]+)/?")

_GONE_MESSAGES = {
    "expired": "The channel expired.",
    "evicted": "The channel was removed: the OAuth client opened more channels than allowed.",
    "token_expired": "The token that created the channel expired.",
    "token_revoked": "The token that created the channel was revoked.",
}


@dataclass(frozen=True)
class _Close:
    code: int
    reason: str


class _Signal:
    """Outbox items that end the writer: abort the TCP connection, or just stop."""


_ABORT = _Signal()
_STOP = _Signal()

_Item = str | _Close | _Signal


@dataclass(eq=False)
class _Socket:
    channel_id: str
    connection: ServerConnection
    outbox: asyncio.Queue[_Item] = field(default_factory=asyncio.Queue)
    heartbeat: Timer | None = None
    # The channel is gone (or never existed): the socket carries nothing more.
    gone: bool = False
    closed: bool = False
    overflowed: bool = False


def guarded(callback: Callable[[], None], name: str) -> Callable[[], None]:
    """Wrap a timer callback so an exception is logged instead of killing the clock thread."""

    def run() -> None:
        try:
            callback()
        except Exception:
            log.exception("timer.failed", extra={"timer": name})

    return run


def not_found_frame(message: str) -> str:
    return orjson.dumps({"result": "404", "message": message}).decode()


def system_frame(
    topic: str, channel_id: str, system_topic_type: str, reason: str, message: str
) -> str:
    """Encode a ``v2.system.*`` frame.

    The body's field names are the published ones. No captured frame is
    public, so the values of ``reason`` and ``message`` are made up.
    """
    return orjson.dumps(
        {
            "topicName": topic,
            "version": "2",
            "eventBody": {
                "channelId": channel_id,
                "systemTopicType": system_topic_type,
                "reason": reason,
                "message": message,
            },
            "metadata": {"CorrelationId": str(uuid.uuid4())},
        }
    ).decode()


class SocketServer:
    """WebSocket server for channels; public methods are safe to call from any thread."""

    def __init__(
        self,
        clock: Clock,
        channel_exists: Callable[[str], bool],
        counter: FaultCounter,
        heartbeat_interval: float,
    ) -> None:
        self._clock = clock
        self._channel_exists = channel_exists
        self._counter = counter
        self._heartbeat_interval = heartbeat_interval
        self._lock = threading.Lock()
        self._sockets: set[_Socket] = set()
        self._live: dict[str, _Socket] = {}  # channel id -> its one socket
        self._pending: dict[ServerConnection, _Socket] = {}
        self._watchers: set[asyncio.Task[None]] = set()
        self._connections: set[ServerConnection] = set()  # open or closing, on the loop thread
        self._heartbeats_stopped: set[str] = set()
        self._heartbeats_stopped_for_all = False
        self.pong_delay = 0.0  # seconds on the simulator clock
        self.pongs_dropped = False
        # Text frames written to a socket, and frames queued but not yet written;
        # tests compare them with what their client read.
        self.frames_sent = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Server | None = None
        self.port = 0

    # Lifecycle

    def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="sim-websocket", daemon=True)
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(self._serve(host, port), loop)
        self.port = started.result(LIFECYCLE_TIMEOUT)

    async def _serve(self, host: str, port: int) -> int:
        self._server = await serve(
            self._handle,
            host,
            port,
            process_request=self._check_path,
            process_response=self._register,
            ping_interval=None,
            close_timeout=CLOSE_TIMEOUT,
            max_size=2**16,
        )
        port_bound: int = next(iter(self._server.sockets)).getsockname()[1]
        return port_bound

    def stop(self) -> None:
        """Close every socket with 1001, stop the loop and join its thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with self._lock:
            for sock in self._sockets:
                if sock.heartbeat is not None:
                    sock.heartbeat.cancel()
        if self._server is not None:
            closing = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
            try:
                closing.result(LIFECYCLE_TIMEOUT + CLOSE_TIMEOUT)
            except TimeoutError:
                log.warning("websocket.stop_timed_out", extra={"timeout": LIFECYCLE_TIMEOUT})
        loop.call_soon_threadsafe(loop.stop)
        thread.join(LIFECYCLE_TIMEOUT)
        if not thread.is_alive():
            loop.close()
        self._loop = None

    async def _shutdown(self) -> None:
        assert self._server is not None
        server = self._server
        server.close()
        try:
            await asyncio.wait_for(server.wait_closed(), SHUTDOWN_GRACE)
        except TimeoutError:
            # A client that never replies to the close frame is cut off.
            for connection in list(self._connections):
                connection.transport.abort()
            await asyncio.wait_for(server.wait_closed(), SHUTDOWN_GRACE)
        for watcher in list(self._watchers):
            watcher.cancel()

    # Inspection

    def is_connected(self, channel_id: str) -> bool:
        with self._lock:
            return channel_id in self._live

    def queued_frames(self) -> int:
        """Return the frames queued on open sockets and not yet written."""
        with self._lock:
            return sum(sock.outbox.qsize() for sock in self._sockets if not sock.closed)

    def socket_count(self, channel_id: str) -> int:
        """Return how many sockets are open on the channel (1 at most, bar a closing one)."""
        with self._lock:
            return sum(
                1 for sock in self._sockets if sock.channel_id == channel_id and not sock.closed
            )

    # Frames

    def deliver(self, channel_ids: list[str], frame: str) -> int:
        """Queue ``frame`` on the socket of each channel; return how many sockets got it."""
        with self._lock:
            targets = [self._live[c] for c in channel_ids if c in self._live]
        if targets:
            self._call(self._put_all, targets, frame)
        return len(targets)

    def channel_gone(self, gone: GoneChannel) -> None:
        """Tell the channel's socket, if any, that the channel is gone."""
        with self._lock:
            sock = self._live.pop(gone.channel_id, None)
            if sock is not None:
                sock.gone = True
        if sock is not None and gone.reason == "token_revoked":
            frame = system_frame(
                f"v2.system.token_revoked.{gone.channel_id}",
                gone.channel_id,
                "token_revoked",
                "token_revoked",
                _GONE_MESSAGES[gone.reason],
            )
            self._send(sock, frame)
        elif sock is not None:
            self._send(sock, not_found_frame(_GONE_MESSAGES[gone.reason]))
        log.info(
            "channel.gone",
            extra={
                "channel_id": gone.channel_id,
                "reason": gone.reason,
                "socket": sock is not None,
            },
        )

    def send_not_found(self, channel_id: str | None) -> int:
        targets = self._targets(channel_id)
        for sock in targets:
            self._send(sock, not_found_frame("The channel was not found."))
        return len(targets)

    def send_socket_closing(self, channel_id: str | None, close_after: float | None) -> int:
        targets = self._targets(channel_id)
        for sock in targets:
            frame = system_frame(
                "v2.system.socket_closing",
                sock.channel_id,
                "socket_closing",
                "maintenance",
                "This socket will close soon for maintenance. Open a new socket.",
            )
            self._send(sock, frame)
            if close_after is not None:
                self._close_later(sock, close_after)
        return len(targets)

    def send_no_longer_subscribed(self, channel_id: str, reason: str) -> int:
        targets = self._targets(channel_id)
        for sock in targets:
            frame = system_frame(
                f"v2.system.no_longer_subscribed.{channel_id}",
                channel_id,
                "no_longer_subscribed",
                reason,
                "The channel is no longer subscribed to its topics. Subscribe again.",
            )
            self._send(sock, frame)
        return len(targets)

    def _close_later(self, sock: _Socket, delay: float) -> None:
        close = guarded(lambda: self._send(sock, _Close(1000, "maintenance")), "close_later")
        self._clock.call_later(delay, close)

    # Faults

    def abort(self, channel_id: str | None) -> int:
        targets = self._targets(channel_id)
        for sock in targets:
            self._send(sock, _ABORT)
        return len(targets)

    def close(self, code: int, channel_id: str | None) -> int:
        targets = self._targets(channel_id)
        for sock in targets:
            self._send(sock, _Close(code, ""))
        return len(targets)

    def stop_heartbeats(self, channel_id: str | None) -> None:
        with self._lock:
            if channel_id is None:
                self._heartbeats_stopped_for_all = True
                self._heartbeats_stopped.update(sock.channel_id for sock in self._sockets)
            else:
                self._heartbeats_stopped.add(channel_id)

    def resume_heartbeats(self, channel_id: str | None) -> None:
        with self._lock:
            if channel_id is None:
                self._heartbeats_stopped_for_all = False
                self._heartbeats_stopped.clear()
            else:
                self._heartbeats_stopped.discard(channel_id)

    # Connection handling, on the loop thread

    def _check_path(self, connection: ServerConnection, request: Request) -> Response | None:
        if _CHANNEL_PATH.fullmatch(request.path.partition("?")[0]) is None:
            return connection.respond(404, "Not found.\n")
        return None

    def _register(self, connection: ServerConnection, request: Request, response: Response) -> None:
        """Adopt the socket before the handshake response goes out.

        Registering here, not in the handler, means that once the client has
        its ``101`` the socket already counts as connected, the previous socket
        is being closed and the heartbeat timer runs.
        """
        if response.status_code != 101:
            return
        match = _CHANNEL_PATH.fullmatch(request.path.partition("?")[0])
        assert match is not None  # _check_path rejected every other path
        channel_id = match.group(1)
        sock = _Socket(channel_id, connection)
        self._pending[connection] = sock
        self._connections.add(connection)
        watcher = asyncio.get_running_loop().create_task(self._forget_when_closed(sock))
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)

        if not self._channel_exists(channel_id):
            sock.gone = True
            with self._lock:
                self._sockets.add(sock)
            sock.outbox.put_nowait(not_found_frame("The channel was not found."))
            log.info("socket.unknown_channel", extra={"channel_id": channel_id})
            return

        with self._lock:
            replaced = self._live.get(channel_id)
            self._live[channel_id] = sock
            self._sockets.add(sock)
            if self._heartbeats_stopped_for_all:
                self._heartbeats_stopped.add(channel_id)
        if replaced is not None:
            replaced.outbox.put_nowait(
                _Close(REPLACED_CLOSE_CODE, "Another socket connected to this channel.")
            )
        self._schedule_heartbeat(sock)
        log.info(
            "socket.connected",
            extra={"channel_id": channel_id, "replaced": replaced is not None},
        )

    async def _handle(self, connection: ServerConnection) -> None:
        sock = self._pending.pop(connection, None)
        if sock is None:
            return
        reader = asyncio.create_task(self._read(sock))
        try:
            await self._write(sock)
        finally:
            reader.cancel()
            self._forget(sock)

    async def _write(self, sock: _Socket) -> None:
        connection = sock.connection
        while True:
            item = await sock.outbox.get()
            try:
                if isinstance(item, str):
                    await connection.send(item)
                    self.frames_sent += 1
                elif isinstance(item, _Close):
                    await connection.close(item.code, item.reason)
                    return
                else:
                    if item is _ABORT:
                        connection.transport.abort()
                    return
            except ConnectionClosed:
                return

    async def _read(self, sock: _Socket) -> None:
        try:
            async for message in sock.connection:
                if isinstance(message, str) and _is_ping(message):
                    self._answer_ping(sock)
        except ConnectionClosed:
            pass
        finally:
            sock.outbox.put_nowait(_STOP)

    def _answer_ping(self, sock: _Socket) -> None:
        if sock.gone:
            return
        if self.pongs_dropped:
            self._counter.record("drop_pongs")
            return
        delay = self.pong_delay
        if delay > 0:
            self._counter.record("delay_pongs")
            self._clock.call_later(delay, guarded(lambda: self._send(sock, PONG_FRAME), "pong"))
            return
        sock.outbox.put_nowait(PONG_FRAME)

    async def _forget_when_closed(self, sock: _Socket) -> None:
        await sock.connection.wait_closed()
        self._pending.pop(sock.connection, None)
        self._connections.discard(sock.connection)
        self._forget(sock)

    def _forget(self, sock: _Socket) -> None:
        with self._lock:
            if sock.closed:
                return
            sock.closed = True
            self._sockets.discard(sock)
            if self._live.get(sock.channel_id) is sock:
                del self._live[sock.channel_id]
        if sock.heartbeat is not None:
            sock.heartbeat.cancel()
        code = sock.connection.close_code
        log.info("socket.closed", extra={"channel_id": sock.channel_id, "code": code})

    # Heartbeats, on the clock thread

    def _schedule_heartbeat(self, sock: _Socket) -> None:
        beat = guarded(lambda: self._beat(sock), "heartbeat")
        sock.heartbeat = self._clock.call_later(self._heartbeat_interval, beat)

    def _beat(self, sock: _Socket) -> None:
        with self._lock:
            if sock.closed or sock.gone:
                return
            stopped = sock.channel_id in self._heartbeats_stopped
        if not stopped:
            self._send(sock, HEARTBEAT_FRAME)
        self._schedule_heartbeat(sock)

    # Handing items to the loop thread

    def _targets(self, channel_id: str | None) -> list[_Socket]:
        with self._lock:
            return [
                sock
                for sock in self._sockets
                if not sock.closed and (channel_id is None or sock.channel_id == channel_id)
            ]

    def _send(self, sock: _Socket, item: _Item) -> None:
        self._call(self._enqueue, sock, item)

    def _put_all(self, targets: list[_Socket], frame: str) -> None:
        for sock in targets:
            self._enqueue(sock, frame)

    def _enqueue(self, sock: _Socket, item: _Item) -> None:
        """Queue ``item`` on the loop thread, cutting off a client that stopped reading."""
        if isinstance(item, str) and sock.outbox.qsize() >= MAX_QUEUED_FRAMES:
            if not sock.overflowed:
                sock.overflowed = True
                log.warning(
                    "socket.send_queue_full",
                    extra={"channel_id": sock.channel_id, "frames": MAX_QUEUED_FRAMES},
                )
                sock.connection.transport.abort()
            return
        sock.outbox.put_nowait(item)

    def _call(self, callback: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:
            # The loop closed while the server stops; the frame has nowhere to go.
            log.debug("websocket.loop_closed")


def _is_ping(message: str) -> bool:
    try:
        payload = orjson.loads(message)
    except orjson.JSONDecodeError:
        log.debug("socket.message_not_json")
        return False
    return isinstance(payload, dict) and payload.get("message") == "ping"

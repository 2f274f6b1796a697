"""One WebSocket to one channel, with the reader thread that drains it.

A ``Session`` is owned by its ConnectionActor. The reader thread is the only
thread that receives on the socket. It hands every text frame to a callback
and reports the end of the socket once, with the close code of the close
frame, or 1006 when the connection dropped without one.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import websocket

from genesys.client import Channel
from genesys_stream.clock import Clock

log = logging.getLogger(__name__)

# The text ping to which the Genesys notification service replies with a `pong` metadata frame.
PING = '{"message":"ping"}'
ABNORMAL_CLOSURE = 1006


@dataclass
class Liveness:
    """When the session last proved alive; written by the reader, read by the heartbeat.

    Times are the clock's monotonic seconds, except ``last_frame_wall`` (epoch
    seconds), which bounds a gap for back-fill.
    """

    opened: float
    opened_wall: float
    last_frame: float | None = None
    last_frame_wall: float | None = None
    ping_sent: float | None = None
    frames: int = 0


@dataclass
class Session:
    """A channel and its socket; ``subscribed`` once the topic list is in place."""

    number: int
    channel: Channel
    liveness: Liveness
    subscribed: bool = False
    permitted: int = 0
    _ws: websocket.WebSocket | None = field(default=None, repr=False)
    _reader: threading.Thread | None = field(default=None, repr=False)
    _send_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _closed_by_us: bool = False

    @classmethod
    def open(
        cls,
        number: int,
        channel: Channel,
        clock: Clock,
        on_text: Callable[[Session, str], None],
        on_end: Callable[[Session, int | None, str], None],
        connect_timeout: float,
    ) -> Session:
        """Connect to the channel and start the reader thread.

        Raises ``ConnectionError`` (with no URI in its text: the URI is the
        channel's credential) when the handshake fails.
        """
        try:
            ws = websocket.create_connection(
                channel.connect_uri,
                timeout=connect_timeout,
                enable_multithread=True,
                # UTF-8 validation in pure Python costs more than the rest of the read.
                skip_utf8_validation=True,
            )
        except (websocket.WebSocketException, OSError) as exc:
            raise ConnectionError(
                f"WebSocket handshake to channel {channel.id} failed: {type(exc).__name__}."
            ) from None
        # Reads block until a frame or a close; the heartbeat aborts a silent socket.
        ws.settimeout(None)
        session = cls(
            number=number,
            channel=channel,
            liveness=Liveness(opened=clock.monotonic(), opened_wall=clock.time()),
            _ws=ws,
        )
        session._reader = threading.Thread(
            target=session._read,
            args=(clock, on_text, on_end),
            name=f"reader-{channel.id[-8:]}-{number}",
            daemon=True,
        )
        session._reader.start()
        return session

    def _read(
        self,
        clock: Clock,
        on_text: Callable[[Session, str], None],
        on_end: Callable[[Session, int | None, str], None],
    ) -> None:
        assert self._ws is not None
        code: int | None = ABNORMAL_CLOSURE
        reason = "connection dropped"
        try:
            while True:
                opcode, data = self._ws.recv_data(control_frame=False)
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
                    reason = "close frame"
                    break
                if opcode != websocket.ABNF.OPCODE_TEXT:
                    continue
                self.liveness.last_frame = clock.monotonic()
                self.liveness.last_frame_wall = clock.time()
                self.liveness.frames += 1
                on_text(self, data.decode("utf-8", errors="replace"))
        except websocket.WebSocketConnectionClosedException:
            pass
        except (websocket.WebSocketException, OSError) as exc:
            reason = type(exc).__name__
        except Exception:
            # A bug in frame handling must not leave a socket that no thread reads.
            log.exception("session.reader_failed", extra={"channel_id": self.channel.id})
            reason = "reader failed"
        finally:
            with contextlib.suppress(OSError):
                self._ws.shutdown()  # type: ignore[no-untyped-call]
            on_end(self, code, "closed by us" if self._closed_by_us else reason)

    def ping(self) -> None:
        """Send the Genesys text ping; errors surface as the socket's end."""
        ws = self._ws
        if ws is None:
            return
        try:
            with self._send_lock:
                ws.send(PING)
        except (websocket.WebSocketException, OSError):
            self.abort()

    def close(self) -> None:
        """Close the socket normally; the reader thread then reports the end."""
        self._closed_by_us = True
        ws = self._ws
        if ws is None:
            return
        try:
            with self._send_lock:
                ws.send_close(websocket.STATUS_NORMAL)
        except (websocket.WebSocketException, OSError):
            pass
        self._shutdown()

    def abort(self) -> None:
        """Drop the socket at once (no close handshake), e.g. when it went silent."""
        self._closed_by_us = True
        self._shutdown()

    def _shutdown(self) -> None:
        # abort() shuts the socket down for both directions, which wakes the
        # reader thread blocked in recv; closing the descriptor alone does not.
        ws = self._ws
        if ws is not None and ws.sock is not None:
            with contextlib.suppress(OSError):
                ws.abort()  # type: ignore[no-untyped-call]

    def join(self, timeout: float) -> None:
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join(timeout)

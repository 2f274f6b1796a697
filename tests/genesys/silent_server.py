"""A loopback server that reads each request and never replies: it closes, or stays silent."""

import socket
import threading
from types import TracebackType


class SilentServer:
    """Accepts connections on 127.0.0.1 and counts them.

    With ``hang_up``, each connection is closed once its request arrives, so
    the client sees the connection dropped after sending. Without it, the
    connection stays open with no reply until the server stops, so the client
    times out reading.
    """

    def __init__(self, hang_up: bool) -> None:
        self._hang_up = hang_up
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, name="silent-server")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> "SilentServer":
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        with self._lock:
            for connection in self._open:
                connection.close()
        self._listener.close()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            with self._lock:
                self.connections += 1
            connection.settimeout(5)
            connection.recv(65536)
            if self._hang_up:
                connection.close()
            else:
                with self._lock:
                    self._open.append(connection)

"""Small stand-ins shared by the Genesys client tests."""

import socket

from genesys.auth import AccessToken


class FixedToken:
    """A token source that always returns the same token."""

    def current(self) -> AccessToken:
        return AccessToken("fixed-token-value", "bearer", 600.0, 0.0)


def closed_port_url() -> str:
    """Return an http URL of a loopback port that nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"

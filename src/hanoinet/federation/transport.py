"""HTTP between nodes, with httpx: transmissions, directory entries, evidence chunks.

Every call returns the peer's status and body; the node's services decide what they mean. A peer that cannot be
reached (refused, timed out, cut off) raises ``TransportError``: the outbox keeps the messages and tries again.
Evidence records are streamed from the vault as the request body (chunked encoding), so a gigabyte goes in
constant memory and the receiver works on one record while the next is on the wire.

Outbound requests go only where an operator pointed them (confirmed endpoints, configured directory URLs), and a
node is not a proxy into the network it stands in: a host that resolves to a private, loopback, link-local or
otherwise special address is refused unless ``HANOINET_ALLOW_PRIVATE_PEERS`` says so (demo and tests on one
machine). The check is made on the addresses the connection is actually opened to (``_GuardedBackend``: the name
is resolved once, every address checked, and the socket connected to a checked address), so a name that resolves
to a public address when checked and to 127.0.0.1 when connecting (DNS rebinding) gains nothing. Answers are read
as a stream and cut at ``max_answer`` bytes; proxies from the environment are not used (they would connect for us).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import httpcore
import httpx

from hanoinet import __version__
from hanoinet.federation.ports import TransportError

if TYPE_CHECKING:
    from hanoinet.federation.settings import FederationSettings

FEDERATION = "/federation/v1"
JOSE = "application/jose"
DEFAULT_MAX_ANSWER = 16 * 1024 * 1024


class OutboundRefused(TransportError):  # noqa: N818 - names the outcome
    """This node will not connect there: the address is private, loopback, link-local or otherwise special."""


class AnswerTooLarge(TransportError):  # noqa: N818 - names the outcome
    """The peer's answer is longer than this node reads."""


def refused_address(address: str) -> str | None:
    """Why this node does not connect to ``address`` (an IP address), or None if it may."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for flag, what in (
        ("is_loopback", "a loopback"),
        ("is_link_local", "a link-local"),
        ("is_private", "a private"),
        ("is_multicast", "a multicast"),
        ("is_reserved", "a reserved"),
        ("is_unspecified", "an unspecified"),
    ):
        if getattr(ip, flag):
            return f"{address} is {what} address (set HANOINET_ALLOW_PRIVATE_PEERS=true for peers on such a network)"
    if not ip.is_global:
        return f"{address} is not a public address (set HANOINET_ALLOW_PRIVATE_PEERS=true for such peers)"
    return None


class _AddressRefused(httpcore.ConnectError):
    """Raised inside the connection pool; ``HttpTransport`` turns it into ``OutboundRefused``."""


class _GuardedBackend(httpcore.SyncBackend):
    """Resolves the host once, refuses it if any of its addresses may not be reached, and connects to a checked
    address: what is checked is what is connected to."""

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"{host}: cannot be resolved ({exc})") from None
        addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
        if not self.allow_private:
            for address in addresses:
                why = refused_address(address)
                if why is not None:
                    raise _AddressRefused(f"{host} resolves to {why}")
        last: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:  # the next address, as socket.create_connection would
                last = exc
        raise last or httpcore.ConnectError(f"{host}: no address")


class HttpTransport:
    """One connection pool per instance; use one instance per thread."""

    def __init__(
        self,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 3.0,
        allow_private: bool = False,
        max_answer: int = DEFAULT_MAX_ANSWER,
    ) -> None:
        self.max_answer = max_answer
        pool = httpx.HTTPTransport(trust_env=False)
        guarded = _GuardedBackend(allow_private=allow_private)
        # httpx does not take a network backend; httpcore's pool keeps it here (checked: a change of httpcore that
        # moved it fails this assertion rather than connecting unchecked).
        assert isinstance(pool._pool, httpcore.ConnectionPool)
        assert hasattr(pool._pool, "_network_backend")
        pool._pool._network_backend = guarded
        self._client = httpx.Client(
            transport=pool,
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            headers={"User-Agent": f"hanoinet/{__version__}"},
            follow_redirects=False,
            trust_env=False,
        )

    @classmethod
    def of(cls, settings: FederationSettings, *, timeout: float = 30.0) -> HttpTransport:
        """A transport with the node's outbound rules (private addresses, answer cap)."""
        return cls(timeout=timeout, allow_private=settings.allow_private_peers, max_answer=settings.max_answer_bytes)

    def close(self) -> None:
        """Close the connections."""
        self._client.close()

    def _call(self, method: str, url: str, **kwargs: Any) -> tuple[int, bytes]:
        try:
            with self._client.stream(method, url, **kwargs) as response:
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.max_answer:
                    raise AnswerTooLarge(f"{url}: the answer is longer than {self.max_answer} bytes (not read)")
                body = bytearray()
                for piece in response.iter_bytes():
                    body += piece
                    if len(body) > self.max_answer:
                        raise AnswerTooLarge(f"{url}: the answer is longer than {self.max_answer} bytes (cut off)")
                return response.status_code, bytes(body)
        except httpx.HTTPError as exc:
            if isinstance(exc.__cause__, _AddressRefused):
                raise OutboundRefused(f"{url}: refused: {exc}") from None
            raise TransportError(f"{url}: {type(exc).__name__}: {exc}") from None

    def transmit(self, endpoint: str, envelope: str) -> tuple[int, bytes]:
        return self._call(
            "POST", f"{endpoint}{FEDERATION}/transmissions", content=envelope.encode(), headers={"Content-Type": JOSE}
        )

    def push_entry(self, endpoint: str, signed: str) -> tuple[int, bytes]:
        return self._call(
            "POST",
            f"{endpoint}{FEDERATION}/entries",
            content=signed.encode(),
            headers={"Content-Type": "application/json"},
        )

    def transfer_status(self, endpoint: str, transfer_id: str, token: str) -> tuple[int, bytes]:
        return self._call(
            "GET", f"{endpoint}{FEDERATION}/transfers/{transfer_id}", headers={"Authorization": f"Bearer {token}"}
        )

    def send_records(
        self, endpoint: str, transfer_id: str, idx: int, *, start: int, token: str, records: Iterable[bytes]
    ) -> tuple[int, bytes]:
        def body() -> Iterator[bytes]:
            yield from records

        return self._call(
            "PUT",
            f"{endpoint}{FEDERATION}/transfers/{transfer_id}/items/{idx}",
            params={"start": start},
            content=body(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"},
        )

    def complete_transfer(self, endpoint: str, transfer_id: str, token: str) -> tuple[int, bytes]:
        return self._call(
            "POST",
            f"{endpoint}{FEDERATION}/transfers/{transfer_id}/complete",
            headers={"Authorization": f"Bearer {token}"},
        )

    def fetch(self, url: str) -> tuple[int, bytes]:
        """GET a document (another node's entry or register)."""
        return self._call("GET", url)

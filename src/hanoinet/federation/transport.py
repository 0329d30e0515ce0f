"""HTTP between nodes, with httpx: transmissions, directory entries, evidence chunks.

Every call returns the peer's status and body; the node's services decide what they mean. A peer that cannot be
reached (refused, timed out, cut off) raises ``TransportError``: the outbox keeps the messages and tries again.
Evidence records are streamed from the vault as the request body (chunked encoding), so a gigabyte goes in
constant memory and the receiver works on one record while the next is on the wire.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import httpx

from hanoinet import __version__
from hanoinet.federation.ports import TransportError

FEDERATION = "/federation/v1"
JOSE = "application/jose"


class HttpTransport:
    """One connection pool per instance; use one instance per thread."""

    def __init__(self, *, timeout: float = 30.0, connect_timeout: float = 3.0) -> None:
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            headers={"User-Agent": f"hanoinet/{__version__}"},
            follow_redirects=False,
        )

    def close(self) -> None:
        """Close the connections."""
        self._client.close()

    def _call(self, method: str, url: str, **kwargs: object) -> tuple[int, bytes]:
        try:
            response = self._client.request(method, url, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            raise TransportError(f"{url}: {type(exc).__name__}: {exc}") from None
        return response.status_code, response.content

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

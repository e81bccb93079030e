"""Where a webhook may be delivered: public addresses only, unless the protocol says so.

Agents declare their own webhook URLs, and the reactor POSTs from inside the team's
network: a URL naming 127.0.0.1, a cloud's metadata service (169.254.169.254) or a
database on 10.x would make it call internal services. So before a delivery the
URL's host is resolved once, every address it resolves to must be public
(``ipaddress``'s ``is_global``, an IPv4-mapped IPv6 address judged as the IPv4 one),
and the POST goes to that checked address, with the URL's name kept in ``Host``
and as the TLS server name (the certificate is still checked against the name). A
name that answers a public address to the check and 127.0.0.1 to the connection
(DNS rebinding) therefore gets no second lookup to slip through.

A protocol with ``allow_private_webhooks = true`` delivers anywhere, as given.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field

import httpx

__all__ = ["Target", "WebhookRefused", "refusal", "resolve"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class WebhookRefused(Exception):
    """The webhook's address is not public and the protocol does not allow private ones."""


@dataclass(frozen=True)
class Target:
    """Where one POST goes: the URL to connect to, with the headers and TLS name it needs."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, str] = field(default_factory=dict)


def refusal(address: IPAddress) -> str | None:
    """Why ``address`` is not a public one (``"loopback"``, ``"private"``…), else None."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_unspecified:
        return "unspecified"
    if address.is_multicast:
        return "multicast"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "non-public"
    return None


def resolve(url: str, allow_private: bool) -> Target:
    """The checked address to POST ``url``'s delivery to, or :class:`WebhookRefused`.

    A name that cannot be resolved now is an :class:`httpx.ConnectError`, retried
    like any connection failure.
    """
    if allow_private:
        return Target(url)
    parsed = httpx.URL(url)
    host = parsed.host
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        addresses = _lookup(parsed, host, port)
    for address in addresses:
        why = refusal(address)
        if why is not None:
            named = f"{host} resolves to {address}" if str(address) != host else host
            raise WebhookRefused(
                f"{url}: {named}, a {why} address; deliveries there need "
                "allow_private_webhooks = true in the protocol"
            )
    checked = addresses[0]
    extensions = {} if str(checked) == host else {"sni_hostname": host}
    return Target(
        str(parsed.copy_with(host=str(checked))),
        headers={"Host": parsed.netloc.decode("ascii")},
        extensions=extensions if parsed.scheme == "https" else {},
    )


def _lookup(parsed: httpx.URL, host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to, in the resolver's order."""
    try:
        found = socket.getaddrinfo(parsed.raw_host.decode("ascii"), port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise httpx.ConnectError(f"{host}: cannot resolve: {exc}") from None
    addresses: list[IPAddress] = []
    for *_, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise httpx.ConnectError(f"{host}: resolves to no address")
    return addresses

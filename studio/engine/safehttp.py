"""Downloading what vendors point us at, without letting them point us inside our network.

Result URLs come from vendors' replies, so they are untrusted: a URL naming 127.0.0.1, a
private address, a cloud metadata address, or a name that resolves to one must not be fetched.
The check happens where the socket connects, after DNS resolution, so DNS rebinding and
redirects (every hop connects through the same backend) cannot get around it. The socket then
connects to the address that was checked, while TLS still verifies the original host name.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass

import httpcore
import httpx

ALLOWED_CONTENT_TYPES = ("image/png", "image/jpeg", "image/webp", "application/octet-stream")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
net = ipaddress.ip_network

# IPv6 forms that carry an IPv4 address in their last 32 bits. `ipaddress` calls most of them
# global (::7f00:1, ::ffff:0:7f00:1 and 64:ff9b::7f00:1 all hide 127.0.0.1), so each is judged by
# the IPv4 address inside it. 6to4 (2002::/16) and Teredo (2001::/32) carry theirs elsewhere and
# are unwrapped by `ipaddress` itself.
LAST_32_BITS = (
    net("::/96"),  # IPv4-compatible (deprecated); also holds :: and ::1
    net("::ffff:0:0/96"),  # IPv4-mapped
    net("::ffff:0:0:0/96"),  # IPv4-translated (SIIT)
    net("64:ff9b::/96"),  # NAT64, well-known prefix
)
# Every global unicast address the IANA has handed out is in 2000::/3; the rest of the space
# (64:ff9b:1::/48 local-use NAT64, 100::/64 discard, 5f00::/16 SRv6, fc00::/7, fe80::/10,
# fec0::/10, ff00::/8, and whatever is assigned later) is not a place to fetch images from.
GLOBAL_UNICAST = net("2000::/3")
# Inside 2000::/3, the special-purpose blocks that are not globally reachable (IANA's registry).
# Listed here rather than left to `ipaddress`, whose tables differ between Python patch releases.
NOT_GLOBAL = (
    # IETF protocol assignments (benchmarking, ORCHID…). Its few global exceptions are anycast
    # and AS112 services, no image host; Teredo (2001::/32) is unwrapped before this list.
    net("2001::/23"),
    net("2001:db8::/32"),  # documentation
    net("3fff::/20"),  # documentation
)


def embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address] | None:
    """The IPv4 addresses an IPv6 form carries, or None if it carries none."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if any(address in block for block in LAST_32_BITS):
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    if address.sixtofour:
        return [address.sixtofour]
    if address.teredo:
        return list(address.teredo)  # the Teredo server and the client behind it
    return None


def is_public(address: IPAddress) -> bool:
    inner = embedded_ipv4(address)
    if inner is not None:
        return all(is_public(a) for a in inner)
    if isinstance(address, ipaddress.IPv6Address) and (
        address not in GLOBAL_UNICAST or any(address in block for block in NOT_GLOBAL)
    ):
        return False
    # is_global is False for private, loopback, link-local (169.254/16, the metadata range),
    # CGNAT (100.64/10), unspecified and reserved ranges.
    return address.is_global and not address.is_multicast


class DownloadRefused(Exception):
    """The download was refused or failed; the message is safe to show a user."""

    def __init__(self, message: str, expired: bool = False):
        super().__init__(message)
        # The URL answered as an expired link does: the vendor may hand out a fresh one.
        self.expired = expired


class GuardedBackend(httpcore.SyncBackend):
    def __init__(self, allowed: Iterable[tuple[str, int]] = ()):
        self.allowed = {(host.lower(), port) for host, port in allowed}

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        if (host.lower(), port) in self.allowed:
            return super().connect_tcp(host, port, timeout, local_address, socket_options)
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore.ConnectError(f"could not resolve {host}") from exc
        addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
        # Refuse the whole name if any address is not public: a resolver that answers with one
        # public and one private address could otherwise be used to reach the private one.
        if not addresses or not all(is_public(a) for a in addresses):
            raise httpcore.ConnectError(f"refused to connect to non-public address for {host}")
        return super().connect_tcp(str(addresses[0]), port, timeout, local_address, socket_options)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every client: building one loads the whole CA bundle
    (tens of milliseconds of CPU), which per download or per submit was a large share of the
    engine's time. SSLContext is safe to share between threads."""
    return httpx.create_ssl_context()


class GuardedTransport(httpx.HTTPTransport):
    def __init__(self, allowed: Iterable[tuple[str, int]] = (), **kwargs):
        kwargs.setdefault("verify", tls_context())
        super().__init__(trust_env=False, **kwargs)
        self._pool._network_backend = GuardedBackend(allowed)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"refused scheme {request.url.scheme}")
        return super().handle_request(request)


def guarded_client(allowed: Iterable[tuple[str, int]] = (), timeout: float = 15) -> httpx.Client:
    return httpx.Client(
        transport=GuardedTransport(allowed),
        trust_env=False,
        follow_redirects=True,
        max_redirects=5,
        timeout=httpx.Timeout(timeout),
        # Compressed bodies could inflate past the byte cap: ask for the bytes as they are.
        headers={"Accept-Encoding": "identity", "User-Agent": "ImageStudio/1.0"},
    )


@dataclass(frozen=True)
class Downloaded:
    content: bytes
    content_type: str
    final_url: str


def download(
    client: httpx.Client, url: str, *, max_bytes: int, deadline_seconds: float
) -> Downloaded:
    """Fetches url with a byte cap and a wall-clock deadline (httpx timeouts are per read)."""
    started = time.monotonic()
    try:
        with client.stream("GET", url) as response:
            if response.status_code in (403, 404, 410):
                raise DownloadRefused(
                    f"the image URL answered {response.status_code} (expired?)", expired=True
                )
            if response.status_code != 200:
                raise DownloadRefused(f"the image URL answered {response.status_code}")
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type not in ALLOWED_CONTENT_TYPES:
                raise DownloadRefused(f"the result is not an image ({content_type or 'no type'})")
            encoding = response.headers.get("content-encoding", "identity").lower()
            if encoding not in ("identity", ""):
                raise DownloadRefused(f"the result came {encoding}-encoded; refused")
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise DownloadRefused(f"the image is larger than {max_bytes // 1_000_000} MB")
            chunks, size = [], 0
            # iter_raw() without a chunk size yields data as it arrives, so the deadline is
            # checked on every read, even for a server that drips one byte at a time.
            for chunk in response.iter_raw():
                size += len(chunk)
                if size > max_bytes:
                    raise DownloadRefused(f"the image is larger than {max_bytes // 1_000_000} MB")
                if time.monotonic() - started > deadline_seconds:
                    raise DownloadRefused(f"the download took longer than {deadline_seconds:g} s")
                chunks.append(chunk)
            return Downloaded(b"".join(chunks), content_type, str(response.url))
    except httpx.TooManyRedirects:
        raise DownloadRefused("the image URL redirected too many times") from None
    except (httpx.UnsupportedProtocol, httpx.InvalidURL):
        raise DownloadRefused("the image URL is not a valid http or https URL") from None
    except httpx.ConnectError as exc:
        if "non-public" in str(exc):
            raise DownloadRefused("the image URL points at a private address; refused") from None
        raise DownloadRefused("could not connect to the image URL") from None
    except httpx.TimeoutException:
        raise DownloadRefused("the image download timed out") from None
    except httpx.HTTPError:
        raise DownloadRefused("the image download failed") from None

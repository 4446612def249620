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
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class DownloadRefused(Exception):
    """The download was refused or failed; the message is safe to show a user."""

    def __init__(self, message: str, expired: bool = False):
        super().__init__(message)
        # The URL answered as an expired link does: the vendor may hand out a fresh one.
        self.expired = expired


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address hidden in an IPv6 form: `ipaddress` calls 64:ff9b::a9fe:a9fe global."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address.teredo:
        return address.teredo[1]
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: IPAddress) -> bool:
    inner = embedded_ipv4(address)
    if inner is not None:
        return is_public(inner)
    # is_global is False for private, loopback, link-local (169.254/16, the metadata range),
    # CGNAT (100.64/10), unspecified and reserved ranges.
    return address.is_global and not address.is_multicast


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

from __future__ import annotations

import ipaddress
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from studio.engine.safehttp import DownloadRefused, download, guarded_client, is_public

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 100


@pytest.mark.parametrize(
    "address, public",
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),  # CGNAT
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped
        ("::ffff:8.8.8.8", True),
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 form of 169.254.169.254
        ("2002:a9fe:a9fe::1", False),  # 6to4 form of 169.254.169.254
        ("2002:0808:0808::1", True),
        ("2002:7f00:1::1", False),  # 6to4 form of 127.0.0.1
        # IPv4-compatible (::/96, deprecated): `ipaddress` calls these global.
        ("::7f00:1", False),
        ("::a9fe:a9fe", False),
        ("::808:808", True),
        ("::", False),
        # IPv4-translated (SIIT, ::ffff:0:0:0/96): also global to `ipaddress`.
        ("::ffff:0:7f00:1", False),
        ("::ffff:0:a00:1", False),
        ("::ffff:0:808:808", True),
        # NAT64: the well-known prefix by what it wraps; the local-use /48 never.
        ("64:ff9b::7f00:1", False),
        ("64:ff9b::808:808", True),
        ("64:ff9b:1::7f00:1", False),
        ("64:ff9b:1::808:808", False),
        # Teredo: both the server and the client address must be public.
        ("2001:0:808:808::f5ff:fffe", False),  # client 10.0.0.1
        ("2001:0:a00:1::f7f7:f7f7", False),  # server 10.0.0.1
        ("2001:0:808:808::f7f7:f7f7", True),
        # Not global, whatever the Python patch release thinks.
        ("fec0::1", False),  # site-local (deprecated)
        ("5f00::1", False),  # SRv6 SIDs
        ("3fff::1", False),  # documentation
        ("2001:db8::1", False),  # documentation
        ("2001:2::1", False),  # benchmarking
        ("100::1", False),  # discard-only
        ("ff0e::1", False),  # multicast
        ("2a00:1450:4001:800::200e", True),
    ],
)
def test_is_public(address, public):
    assert is_public(ipaddress.ip_address(address)) is public


class Handler(BaseHTTPRequestHandler):
    routes: dict = {}

    def do_GET(self):
        self.routes[self.path](self)

    def log_message(self, *args):
        pass


def png(h):
    h.send_response(200)
    h.send_header("Content-Type", "image/png")
    h.send_header("Content-Length", str(len(PNG)))
    h.end_headers()
    h.wfile.write(PNG)


def html(h):
    h.send_response(200)
    h.send_header("Content-Type", "text/html")
    h.end_headers()
    h.wfile.write(b"<html></html>")


def huge_declared(h):
    h.send_response(200)
    h.send_header("Content-Type", "image/png")
    h.send_header("Content-Length", str(2 * 1024**3))
    h.end_headers()


def endless(h):
    h.send_response(200)
    h.send_header("Content-Type", "image/png")
    h.end_headers()
    try:
        while True:
            h.wfile.write(b"\0" * 65536)
    except OSError:
        pass


def drip(h):
    h.send_response(200)
    h.send_header("Content-Type", "image/png")
    h.end_headers()
    try:
        for _ in range(100):
            h.wfile.write(b"\0")
            h.wfile.flush()
            time.sleep(0.05)
    except OSError:
        pass


def expired(h):
    h.send_response(403)
    h.end_headers()


@contextmanager
def server(routes):
    handler = type("H", (Handler,), {"routes": routes})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()


def fetch(url, allowed=(), **kwargs):
    kwargs = {"max_bytes": 1_000_000, "deadline_seconds": 5, **kwargs}
    with guarded_client(allowed) as client:
        return download(client, url, **kwargs)


def test_it_downloads_from_an_allowed_host():
    with server({"/a.png": png}) as port:
        result = fetch(f"http://127.0.0.1:{port}/a.png", [("127.0.0.1", port)])
    assert result.content == PNG
    assert result.content_type == "image/png"


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "[::ffff:127.0.0.1]",
        "[::7f00:1]",
        "[::ffff:0:7f00:1]",
        "[64:ff9b::7f00:1]",
        "[64:ff9b:1::7f00:1]",
    ],
)
def test_it_refuses_loopback_that_is_not_allowed(host):
    with server({"/a.png": png}) as port, pytest.raises(DownloadRefused, match="private address"):
        fetch(f"http://{host}:{port}/a.png")


def test_it_refuses_the_metadata_address():
    with pytest.raises(DownloadRefused, match="private address"):
        fetch("http://169.254.169.254/latest/meta-data/", deadline_seconds=2)


def test_an_allowed_host_may_be_written_in_an_ipv6_form():
    # The operator's vendor hosts are exempt from the guard, whatever form they are written in.
    with server({"/a.png": png}) as port:
        result = fetch(f"http://[::ffff:127.0.0.1]:{port}/a.png", [("::ffff:127.0.0.1", port)])
    assert result.content == PNG


def test_an_allowed_host_is_allowed_on_its_port_only():
    with (
        server({"/a.png": png}) as port,
        server({"/a.png": png}) as other,
        pytest.raises(DownloadRefused, match="private address"),
    ):
        fetch(f"http://127.0.0.1:{other}/a.png", [("127.0.0.1", port)])


def test_every_redirect_hop_is_checked():
    with server({"/a.png": png}) as private_port:

        def redirect(h):
            h.send_response(302)
            h.send_header("Location", f"http://127.0.0.1:{private_port}/a.png")
            h.end_headers()

        with server({"/r": redirect}) as port, pytest.raises(DownloadRefused, match="private"):
            fetch(f"http://127.0.0.1:{port}/r", [("127.0.0.1", port)])


def test_it_refuses_other_schemes():
    with pytest.raises(DownloadRefused, match="not a valid http"):
        fetch("file:///etc/passwd")


def test_it_refuses_a_result_that_is_not_an_image():
    with server({"/x": html}) as port, pytest.raises(DownloadRefused, match="not an image"):
        fetch(f"http://127.0.0.1:{port}/x", [("127.0.0.1", port)])


def test_it_refuses_a_declared_2gb_result_without_reading_it():
    with server({"/x": huge_declared}) as port, pytest.raises(DownloadRefused, match="larger"):
        fetch(f"http://127.0.0.1:{port}/x", [("127.0.0.1", port)])


def test_it_stops_an_endless_body_at_the_byte_cap():
    with server({"/x": endless}) as port, pytest.raises(DownloadRefused, match="larger than 1 MB"):
        fetch(f"http://127.0.0.1:{port}/x", [("127.0.0.1", port)], max_bytes=1_000_000)


def test_it_stops_a_dripping_server_at_the_deadline():
    started = time.monotonic()
    with server({"/x": drip}) as port, pytest.raises(DownloadRefused, match="longer than 0.5 s"):
        fetch(f"http://127.0.0.1:{port}/x", [("127.0.0.1", port)], deadline_seconds=0.5)
    assert time.monotonic() - started < 3


def test_an_expired_url_says_so():
    with server({"/x": expired}) as port, pytest.raises(DownloadRefused, match="403"):
        fetch(f"http://127.0.0.1:{port}/x", [("127.0.0.1", port)])

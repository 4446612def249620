"""A bare HTTP server on 127.0.0.1 for replies no fake vendor sends: huge, endless, compressed.

Each request gets the next scripted reply, written piece by piece as it is generated and, unless
the script says otherwise, without a Content-Length (the body ends when the connection closes),
so the client cannot know the size in advance and must count.
"""

from __future__ import annotations

import gzip
import random
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

PIECE = b"A" * 65536
# The TCP ports these tests may listen on (other test runs share the machine).
PORTS = range(21000, 22000)


def ports() -> list[int]:
    """The range from a random start, so that concurrent runs rarely try the same port first."""
    start = random.randrange(len(PORTS))
    return [*PORTS[start:], *PORTS[:start]]


def free_port() -> int:
    """A port in the range that is free now, for a fake vendor to listen on."""
    for port in ports():
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise OSError("no free port in 21000-21999")


@dataclass
class Scripted:
    status: int
    body: Callable[[], Iterator[bytes]]
    headers: dict[str, str] = field(default_factory=dict)
    sent: int = 0  # body bytes written before the client stopped reading


def image_json(size: int) -> Callable[[], Iterator[bytes]]:
    """`{"data": [{"b64_json": "AAAA…"}]}` of about `size` bytes, made as it is sent."""

    def pieces() -> Iterator[bytes]:
        yield b'{"created": 1, "data": [{"b64_json": "'
        for _ in range(size // len(PIECE)):
            yield PIECE
        yield b'"}]}'

    return pieces


def text(size: int) -> Callable[[], Iterator[bytes]]:
    def pieces() -> Iterator[bytes]:
        for _ in range(size // len(PIECE)):
            yield PIECE

    return pieces


def gzip_bomb(size: int) -> Callable[[], Iterator[bytes]]:
    """`size` bytes of JSON-ish zeros that travel as about a thousandth of that."""
    packed = gzip.compress(b" " * size, compresslevel=9)
    return lambda: iter([packed])


def fixed(data: bytes) -> Callable[[], Iterator[bytes]]:
    return lambda: iter([data])


class _Handler(socketserver.BaseRequestHandler):
    server: Loopback

    def handle(self) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            data = self.request.recv(65536)
            if not data:
                return
            head += data
        headers, _, body = head.partition(b"\r\n\r\n")
        lines = headers.decode("latin-1").split("\r\n")
        fields = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
        length = int(fields.get("content-length", 0))
        while len(body) < length:
            body += self.request.recv(65536)
        self.server.requests.append((lines[0], fields))
        reply = self.server.replies.pop(0)
        status = [f"HTTP/1.1 {reply.status} Scripted", "Connection: close"]
        status += [f"{k}: {v}" for k, v in reply.headers.items()]
        try:
            self.request.sendall(("\r\n".join(status) + "\r\n\r\n").encode())
            for piece in reply.body():
                self.request.sendall(piece)
                reply.sent += len(piece)
        except OSError:
            pass  # the client stopped reading: what a byte cap is for


class Loopback(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, *replies: Scripted) -> None:
        for port in ports():
            try:
                super().__init__(("127.0.0.1", port), _Handler)
                break
            except OSError:
                continue
        else:
            raise OSError("no free port in 21000-21999")
        self.replies = list(replies)
        self.requests: list[tuple[str, dict[str, str]]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> Loopback:
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()

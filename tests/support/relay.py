"""A loopback TCP relay to an HTTP server that a test watches, holds and cuts.

MLflow's REST calls are plain HTTP/1.1 over loopback, several on one
keep-alive connection. The relay reads each request the client sends (its
request line, its headers, a body of ``Content-Length`` bytes or chunked),
records it, and forwards it whole, so a test can wait for an explicit event
("the run asked to register a model version") instead of sleeping:

    relay = Relay(tracking_server)             # the server's http://127.0.0.1:PORT
    uri = relay.url                            # point the client here
    created = relay.watch("POST", "/api/2.0/mlflow/runs/create")
    held = relay.hold("POST", "/api/2.0/mlflow/model-versions/create", body="concise")
    held.wait(timeout=120)                     # the request arrived; it was not forwarded
    held.release()                             # forward it (or relay.cut(): it never is)

A request is forwarded once it is whole, so a client that sends
``Expect: 100-continue`` and waits for the answer before its body (MLflow's
clients do not) would wait for its own timeout.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Request:
    """One HTTP request the client sent through the relay."""

    method: str
    target: str  # the request line's target: path and query string
    body: bytes

    @property
    def path(self) -> str:
        """The target without its query string."""
        return self.target.split("?", 1)[0]

    def __str__(self) -> str:
        return f"{self.method} {self.target}"


@dataclass
class Watch:
    """Requests that match; :attr:`seen` is set by the first one.

    A holding watch stops every matching request before it reaches the
    server, until :meth:`release` (forward them) or the relay is cut (drop them).
    """

    matches: Callable[[Request], bool]
    holds: bool
    seen: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    # Set by release or by the relay's cut: a held request stops waiting.
    gate: threading.Event = field(default_factory=threading.Event)
    requests: list[Request] = field(default_factory=list)
    relay: Relay | None = None

    def wait(self, timeout: float) -> Request:
        """Block until a matching request is seen; return the first one.

        Raises:
            TimeoutError: none came within ``timeout`` seconds; the message
                lists the requests the relay did see.
        """
        if not self.seen.wait(timeout):
            seen = [str(r) for r in self.relay.requests] if self.relay else []
            raise TimeoutError(
                f"No matching request within {timeout} s; the relay saw {seen}"
            )
        return self.requests[0]

    def release(self) -> None:
        """Forward the held requests, and every later match, to the server."""
        self.released.set()
        self.gate.set()


class Relay:
    """A loopback TCP relay to a server; :meth:`cut` ends it as a killed server would.

    Once cut, the port refuses connections, every open connection is closed
    and every held request is dropped: from the client's side, the server is gone.
    """

    def __init__(self, server_url: str) -> None:
        split = urlsplit(server_url)
        self._upstream = (split.hostname or "127.0.0.1", split.port or 80)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests: list[Request] = []
        self.cut_at: float | None = None
        self._cut = threading.Event()
        self._open: list[socket.socket] = []
        self._watches: list[Watch] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def watch(
        self,
        method: str | None = None,
        path: str | None = None,
        body: str | None = None,
        *,
        hold: bool = False,
        matches: Callable[[Request], bool] | None = None,
    ) -> Watch:
        """Watch for requests with this method, path (no query) and body substring.

        A criterion left ``None`` matches anything; ``matches`` adds a test of
        its own. With ``hold=True`` a matching request waits in the relay.
        """

        def matching(request: Request) -> bool:
            return (
                (method is None or request.method == method)
                and (path is None or request.path == path)
                and (body is None or body.encode() in request.body)
                and (matches is None or matches(request))
            )

        watch = Watch(matching, hold, relay=self)
        with self._lock:
            self._watches.append(watch)
        return watch

    def hold(
        self, method: str | None = None, path: str | None = None, body: str | None = None,
        *, matches: Callable[[Request], bool] | None = None,
    ) -> Watch:  # fmt: skip
        """:meth:`watch` with ``hold=True``: matching requests are not forwarded."""
        return self.watch(method, path, body, hold=True, matches=matches)

    def cut(self) -> None:
        """Stop listening, drop held requests and close every connection, once."""
        if self.cut_at is None:
            self.cut_at = time.monotonic()
        self._cut.set()
        with self._lock:
            sockets = [self._listener, *self._open]
            for watch in self._watches:
                watch.gate.set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self) -> None:
        while True:
            try:
                downstream, _ = self._listener.accept()
            except OSError:  # cut
                return
            try:
                upstream = socket.create_connection(self._upstream)
            except OSError:
                downstream.close()
                continue
            with self._lock:
                self._open += [downstream, upstream]
            if self._cut.is_set():  # cut while this one was accepted
                self.cut()
                return
            threading.Thread(
                target=self._requests, args=(downstream, upstream), daemon=True
            ).start()
            threading.Thread(
                target=_pump, args=(upstream, downstream), daemon=True
            ).start()

    def _requests(self, downstream: socket.socket, upstream: socket.socket) -> None:
        """Forward the client's requests one by one, each once it is whole."""
        reader = _Reader(downstream)
        with contextlib.suppress(OSError):
            while (raw := reader.request()) is not None:
                request = _parse(raw)
                if not self._let_through(request):
                    return
                upstream.sendall(raw)
        with contextlib.suppress(OSError):
            upstream.shutdown(socket.SHUT_WR)

    def _let_through(self, request: Request) -> bool:
        """Record the request and wait while a watch holds it; False once cut."""
        with self._lock:
            self.requests.append(request)
            matched = [w for w in self._watches if w.matches(request)]
        for watch in matched:
            watch.requests.append(request)
            watch.seen.set()
        for watch in matched:
            if watch.holds:
                watch.gate.wait()
        return not self._cut.is_set()


def _pump(source: socket.socket, target: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(1 << 16):
            target.sendall(data)
    with contextlib.suppress(OSError):
        target.shutdown(socket.SHUT_WR)


class _Reader:
    """Whole HTTP/1.1 requests from a socket, one at a time."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = b""

    def _fill(self) -> bool:
        data = self._sock.recv(1 << 16)
        self._buffer += data
        return bool(data)

    def _take_until(self, marker: bytes) -> bytes | None:
        while (end := self._buffer.find(marker)) < 0:
            if not self._fill():
                return None
        end += len(marker)
        taken, self._buffer = self._buffer[:end], self._buffer[end:]
        return taken

    def _take(self, size: int) -> bytes | None:
        while len(self._buffer) < size:
            if not self._fill():
                return None
        taken, self._buffer = self._buffer[:size], self._buffer[size:]
        return taken

    def request(self) -> bytes | None:
        """The next request's bytes as sent, or None once the client closed."""
        head = self._take_until(b"\r\n\r\n")
        if head is None:
            return None
        headers = _headers(head)
        if "chunked" in headers.get("transfer-encoding", "").lower():
            raw = head
            while True:
                size_line = self._take_until(b"\r\n")
                if size_line is None:
                    return None
                size = int(size_line.split(b";")[0], 16)
                chunk = self._take(size + 2)  # the data and its CRLF
                if chunk is None:
                    return None
                raw += size_line + chunk
                if size == 0:
                    return raw  # no trailers: MLflow's clients send none
        body = self._take(int(headers.get("content-length", "0")))
        return None if body is None else head + body


def _headers(head: bytes) -> dict[str, str]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    return {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in lines if line)
    }


def _parse(raw: bytes) -> Request:
    head, _, body = raw.partition(b"\r\n\r\n")
    method, target, *_ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
    return Request(method, target, body)

"""The scoring server: MLflow's own scoring app behind the project's request gate.

MLflow's app (``mlflow.pyfunc.scoring_server.init``) serves ``/ping``,
``/health``, ``/version`` and ``/invocations``; it reads no body-size limit and
casts a request to the model's signature (floats to ``uint8``) before the
model sees it, and it prefixes a refusal with the whole input. The gate in
front of ``/invocations`` refuses a body over the limit with 413 before it is
read, checks every request against :mod:`fashion_mnist.serving.contract`
(400 and one sentence), and hands MLflow the checked pixels in the one form
the signature declares.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from io import BytesIO
from typing import Any

import anyio.to_thread
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import REQUEST_LIMIT_EXCEEDED

from fashion_mnist.schemas import PIXEL_COLUMNS

from .contract import RequestContractError, read_request

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PARQUET = "application/vnd.apache.parquet"
# Beyond this, an oversized body is not even read to its end: the connection closes.
DROP_LIMIT_MB = 1024
MB = 1 << 20
DEFAULT_MAX_MB = 64  # 10,000 images as JSON: 20 MB (real ones) to 34 MB (noise)


class RequestGate:
    """ASGI middleware: a size limit and the request contract on ``/invocations``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/invocations":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length", b"0")
        if not length.isdigit() or int(length) > self.max_bytes:
            await self._too_large(
                headers, receive, send, f"{length.decode('latin-1')[:20]} bytes"
            )
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                del body
                more = message.get("more_body", False)
                await self._too_large(
                    headers, receive if more else None, send, "unannounced length"
                )
                return
            if not message.get("more_body", False):
                break
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        try:
            forward = await anyio.to_thread.run_sync(
                _canonical, bytes(body), content_type
            )
        except RequestContractError as exc:
            await _answer(send, exc.get_http_status_code(), exc.serialize_as_json())
            return
        del body
        await self.app(
            _with_parquet_body(scope, len(forward)), _replay(forward, receive), send
        )

    async def _too_large(
        self, headers: dict[bytes, bytes], receive: Receive | None, send: Send, got: str
    ) -> None:
        """Answer 413 without keeping the body.

        A client that asked first (``Expect: 100-continue``, as curl does) is
        answered before it sends anything; one that sends at once is answered
        once the rest of its body has been read and dropped, since most HTTP
        clients read no answer before they have sent the whole request.
        """
        if receive is not None and b"100-continue" not in headers.get(b"expect", b""):
            await _drop_body(receive, limit=DROP_LIMIT_MB * MB)
        error = MlflowException(
            f"The request body ({got}) is over the {self.max_bytes / MB:g} MB "
            "limit: send fewer images per request, or start the server with a "
            "higher --max-request-mb (make serve SERVE_MAX_MB=...).",
            error_code=REQUEST_LIMIT_EXCEEDED,
        )
        await _answer(send, 413, error.serialize_as_json())


async def _drop_body(receive: Receive, limit: int) -> None:
    """Read the rest of a request body and keep none of it, up to ``limit`` bytes."""
    dropped = 0
    while dropped <= limit:
        message = await receive()
        dropped += len(message.get("body", b""))
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            return


def _canonical(body: bytes, content_type: str) -> bytes:
    """The checked pixels, a uint8 (n, 784) table, as Parquet.

    MLflow reads Parquet as it is (no cast) and hands the table to the
    signature's tensor; JSON would be parsed a second time and deep-copied
    (about 1 s per 2,500 images).
    """
    pixels = pd.DataFrame(read_request(body, content_type), columns=PIXEL_COLUMNS)
    out = BytesIO()
    pixels.to_parquet(out)
    return out.getvalue()


def _with_parquet_body(scope: Scope, length: int) -> Scope:
    headers = [
        (k, v)
        for k, v in scope["headers"]
        if k not in (b"content-type", b"content-length")
    ]
    headers += [
        (b"content-type", PARQUET.encode()),
        (b"content-length", str(length).encode()),
    ]
    return {**scope, "headers": headers}


def _replay(body: bytes, receive: Receive) -> Receive:
    """Hand the app ``body`` once, then the client's own messages (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _answer(send: Send, status: int, content: str) -> None:
    body = content.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def build_app(model: Any, max_mb: float = DEFAULT_MAX_MB) -> ASGIApp:
    """MLflow's scoring app for ``model`` behind :class:`RequestGate`.

    Args:
        model: A loaded ``mlflow.pyfunc.PyFuncModel``.
        max_mb: The largest request body accepted, in MiB.
    """
    from mlflow.pyfunc import scoring_server

    return RequestGate(scoring_server.init(model), max_bytes=int(max_mb * MB))

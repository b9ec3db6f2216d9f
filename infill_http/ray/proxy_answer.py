"""What Serve's HTTP proxy says when the ingress replica holding a request dies before answering it: a 503 JSON
error with ``Retry-After`` (the API's error shape), where Serve alone sends a bare ``500 Internal Server Error``
in plain text.

Loaded inside Serve's proxy by ``RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH=infill_http.ray.proxy_answer:middlewares``,
which ``infill serve-ray`` puts in the environment of the Serve controller it starts (the proxies inherit it).
A killed ingress's requests cannot be answered by the ingress; the proxy is the one process left that holds
their connections. Nothing here changes a request that got an answer, nor a WebSocket."""

from __future__ import annotations

from typing import Any

CALLBACK_ENV = "RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH"
CALLBACK_PATH = "infill_http.ray.proxy_answer:middlewares"
LOST_STATUS = 503
LOST_BODY = (b'{"error":{"code":503,"message":"the server that took this request stopped before answering it: '
             b'send it again","type":"unavailable_error"}}')
RETRY_AFTER_S = 1


class AnswerLostRequests:
    """ASGI middleware: an HTTP request whose app returned without starting a response gets LOST_BODY."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message.get("type") == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, receive, watched_send)
        if not started:
            await send({"type": "http.response.start", "status": LOST_STATUS,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"retry-after", str(RETRY_AFTER_S).encode()),
                                    (b"content-length", str(len(LOST_BODY)).encode())]})
            await send({"type": "http.response.body", "body": LOST_BODY, "more_body": False})


def middlewares() -> list[Any]:
    """The proxy callback: the Starlette middlewares Serve wraps its proxy's ASGI app in."""
    from starlette.middleware import Middleware

    return [Middleware(AnswerLostRequests)]

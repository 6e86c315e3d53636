"""An ASGI guard on request size: refuse an oversized body with 413 without reading it all."""

from __future__ import annotations

from typing import Any

from fit_lab.errors import PayloadTooLarge

Scope = dict[str, Any]


class BodySizeLimit:
    def __init__(self, app: Any, limit_bytes: int) -> None:
        self.app = app
        self.limit_bytes = limit_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # A little room above the file limit for the multipart framing around the file.
        allowed = self.limit_bytes + 64 * 1024
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared and declared.isdigit() and int(declared) > allowed:
            await _send_413(send, self.limit_bytes)
            return
        seen = 0
        too_large = False

        async def counting_receive() -> Any:
            nonlocal seen, too_large
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > allowed:
                    too_large = True
                    raise PayloadTooLarge(self.limit_bytes)
            return message

        # A body without Content-Length (chunked) is counted as it arrives. The framework's body parser turns the
        # error raised here into its own 400 ("error parsing the body"); that answer is dropped and 413 sent.
        started = False

        async def guarded_send(message: Any) -> None:
            nonlocal started
            if not too_large:
                started = started or message["type"] == "http.response.start"
                await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except PayloadTooLarge:
            too_large = True
        if too_large and not started:
            await _send_413(send, self.limit_bytes)


async def _send_413(send: Any, limit_bytes: int) -> None:
    body = PayloadTooLarge(limit_bytes).message.encode()
    payload = b'{"detail": "' + body.replace(b'"', b"'") + b'"}'
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})

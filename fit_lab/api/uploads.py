"""Uploads are read up to a limit; anything larger is refused with 413 before it fills memory."""

from __future__ import annotations

from fastapi import Request, UploadFile

from fit_lab.errors import PayloadTooLarge

_CHUNK = 64 * 1024


async def read_limited(request: Request, upload: UploadFile, limit_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit_bytes + 64 * 1024:
        raise PayloadTooLarge(limit_bytes)
    parts: list[bytes] = []
    size = 0
    while chunk := await upload.read(_CHUNK):
        size += len(chunk)
        if size > limit_bytes:
            raise PayloadTooLarge(limit_bytes)
        parts.append(chunk)
    return b"".join(parts)

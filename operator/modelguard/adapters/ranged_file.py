"""A remote file read as a seekable stream through ranged GETs, so the inspector reads a safetensors header or
a zip's central directory without downloading the file (adapters/inspector.py)."""

from __future__ import annotations

import http.client
import io
import re
from collections.abc import Callable

from modelguard.adapters.http import HttpClient, read_limited
from modelguard.api.condition_reasons import Reason
from modelguard.domain.credentials import Credentials
from modelguard.domain.errors import Retry

BLOCK = 256 * 1024
MAX_SKIP = 64 * 1024 * 1024  # a server without Range support is read from the start, up to here


class RangedFile(io.RawIOBase):
    """Read-only and seekable; `fetch(offset, length)` returns those bytes (fewer only at the end)."""

    def __init__(self, fetch: Callable[[int, int], bytes], size: int) -> None:
        self._fetch, self._size, self._pos = fetch, size, 0
        self._block_at, self._block = -1, b""
        self.fetched = 0

    @property
    def size(self) -> int:
        return self._size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def _read(self, offset: int, length: int) -> bytes:
        """A connection that breaks mid-answer is the source's failure (Retry), not the file's: inspection
        turns any other error into a finding, and a network hiccup must not refuse a model."""
        try:
            return self._fetch(offset, length)
        except (OSError, http.client.HTTPException) as exc:
            raise Retry(Reason.SOURCE_UNREACHABLE, f"reading bytes {offset}+{length}: {type(exc).__name__}") from None

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        want = min(len(buffer), self._size - self._pos)
        if want <= 0:
            return 0
        out = bytearray()
        while len(out) < want:
            position = self._pos + len(out)
            if not self._block_at <= position < self._block_at + len(self._block):  # not in the cached block
                at = position // BLOCK * BLOCK
                length = min(max(BLOCK, position + want - len(out) - at), self._size - at)
                self._block, self._block_at = self._read(at, length), at
                self.fetched += len(self._block)
            start = position - self._block_at
            piece = self._block[start : start + want - len(out)]
            if not piece:
                break
            out += piece
        buffer[: len(out)] = out
        self._pos += len(out)
        return len(out)


def http_ranged(client: HttpClient, url: str, credentials: Credentials | None) -> RangedFile:
    """A RangedFile over `url` (the credentials go along only on their own origin); its size from the first
    answer's Content-Range (or Content-Length)."""
    size = -1

    def fetch(offset: int, length: int) -> bytes:
        nonlocal size
        with client.open(url, {"Range": f"bytes={offset}-{offset + length - 1}"}, credentials=credentials) as response:
            if response.status == 206:
                total = re.search(r"/(\d+)$", response.headers.get("Content-Range", ""))
                if total:
                    size = int(total[1])
                return read_limited(response, length, url)
            if offset > MAX_SKIP:  # 200: the whole file; reading to the offset costs what it skips
                raise Retry(Reason.SOURCE_UNREACHABLE, f"{url} does not answer ranged reads")
            size = int(response.headers.get("Content-Length") or -1)
            return response.read(offset + length)[offset:]  # the rest of the answer is left unread

    first = fetch(0, BLOCK)
    ranged = RangedFile(fetch, size if size >= 0 else len(first))
    ranged._block_at, ranged._block, ranged.fetched = 0, first, len(first)
    return ranged

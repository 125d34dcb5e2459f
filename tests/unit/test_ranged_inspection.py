"""Remote files are inspected through ranged reads (issue 17 item 4): a 1 GiB safetensors file served over HTTP
costs its header block, not a download; a server without Range support is read from the start, bounded."""

from __future__ import annotations

import http.server
import io
import re
import ssl
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelguard.adapters.http import HttpClient
from modelguard.adapters.inspector import inspect_stream
from modelguard.adapters.ranged_file import BLOCK, RangedFile, http_ranged
from modelguard.domain.errors import Retry
from modelguard.domain.inspection import Rules, findings
from tests.harness.model_corpus import SAMPLES_BY_NAME

GIB = 1024**3


class _Ranged(http.server.SimpleHTTPRequestHandler):
    served: list[int] = []
    ranges = True

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        path = Path(self.directory) / self.path.lstrip("/")
        size = path.stat().st_size
        wanted = re.fullmatch(r"bytes=(\d+)-(\d+)", self.headers.get("Range", ""))
        if wanted and self.ranges:
            start, end = int(wanted[1]), min(int(wanted[2]), size - 1)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        else:
            start, end = 0, size - 1
            self.send_response(200)
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        with path.open("rb") as f:
            f.seek(start)
            left, sent = end - start + 1, 0
            try:
                while left:
                    chunk = f.read(min(left, 1 << 20))
                    self.wfile.write(chunk)
                    left, sent = left - len(chunk), sent + len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client read what it needed and closed
        type(self).served.append(sent)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    handler = lambda *a, **k: _Ranged(*a, directory=str(tmp_path), **k)  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    _Ranged.served, _Ranged.ranges = [], True
    yield f"http://127.0.0.1:{httpd.server_address[1]}", tmp_path
    httpd.shutdown()
    httpd.server_close()


def _big_safetensors(path: Path) -> None:
    header = b'{"w": {"dtype": "F32", "shape": [268435456], "data_offsets": [0, 1073741824]}}'
    with path.open("wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
        f.truncate(8 + len(header) + GIB)


def test_a_remote_safetensors_file_costs_its_header_block_not_a_download(server: tuple[str, Path]) -> None:
    url, root = server
    _big_safetensors(root / "model.safetensors")
    ranged = http_ranged(HttpClient(ssl.create_default_context()), f"{url}/model.safetensors", None)
    assert ranged.size == (root / "model.safetensors").stat().st_size > GIB
    report = inspect_stream(ranged, ranged.size, "model.safetensors")  # type: ignore[arg-type]
    assert report.format == "safetensors" and report.problems == []
    assert ranged.fetched <= BLOCK and sum(_Ranged.served) <= BLOCK  # one ranged answer of one block


def test_a_remote_pytorch_zip_is_read_through_its_directory_and_pickle(server: tuple[str, Path]) -> None:
    url, root = server
    (root / "model.bin").write_bytes(SAMPLES_BY_NAME["torch-evil.pt"].data)
    ranged = http_ranged(HttpClient(ssl.create_default_context()), f"{url}/model.bin", None)
    report = inspect_stream(ranged, ranged.size, "model.bin")  # type: ignore[arg-type]
    assert report.format == "pytorch"
    assert any("posix.system" in f for f in findings(report, Rules.parse("all")))


def test_a_server_without_range_support_is_read_from_the_start_and_bounded(server: tuple[str, Path]) -> None:
    url, root = server
    _Ranged.ranges = False
    (root / "model.safetensors").write_bytes(SAMPLES_BY_NAME["plain.safetensors"].data)
    ranged = http_ranged(HttpClient(ssl.create_default_context()), f"{url}/model.safetensors", None)
    report = inspect_stream(ranged, ranged.size, "model.safetensors")  # type: ignore[arg-type]
    assert report.format == "safetensors" and report.problems == []


def test_bytes_already_fetched_are_not_fetched_again() -> None:
    """A long read fetches past one block at once; reading inside it again must not go back to the source
    (it did whenever the position was not at the start of that fetch)."""
    from modelguard.adapters.ranged_file import RangedFile

    data = bytes(range(256)) * 4096  # 1 MiB
    calls: list[tuple[int, int]] = []

    def fetch(offset: int, length: int) -> bytes:
        calls.append((offset, length))
        return data[offset : offset + length]

    ranged = RangedFile(fetch, len(data))
    assert ranged.read(600_000) == data[:600_000]
    ranged.seek(300_000)
    assert ranged.read(1000) == data[300_000:301_000]
    ranged.seek(BLOCK + 10)
    assert ranged.read(10) == data[BLOCK + 10 : BLOCK + 20]
    assert len(calls) == 1 and ranged.fetched == 600_000


def test_a_connection_that_breaks_mid_read_is_the_sources_failure_not_a_finding() -> None:
    """Inspection turns every error inside a check into a finding; a network failure must not refuse a model
    (it is Retry: verification tries again)."""

    def fetch(offset: int, length: int) -> bytes:
        raise ConnectionResetError("reset by peer")

    ranged = RangedFile(fetch, 10 * BLOCK)
    with pytest.raises(Retry, match="ConnectionResetError"):
        inspect_stream(io.BufferedReader(ranged, BLOCK), ranged.size, "model.safetensors")

"""The model cache's file server and the model server's fetch through it (loopback only).

The cache serves exactly the verified directory and nothing else; the model server's init container
(`modelguard verify --via`) verifies what it fetched from the cache as strictly as from the source."""

from __future__ import annotations

import http.client
import shutil
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from modelguard.adapters.http import HttpClient, scheme_allowed
from modelguard.adapters.model_file_server import server
from modelguard.adapters.verification_service import ssl_context
from modelguard.cli.main import main as cli
from modelguard.domain.errors import VerificationError
from tests.harness.models import KeyPair, flip_byte, sign, write_model

KEY = KeyPair.generate()


@contextmanager
def serving(root: Path, port: int = 0) -> Iterator[int]:
    httpd = server(root, "127.0.0.1", port)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(httpd.server_address[1])
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def get(port: int, path: str, method: str = "GET") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_the_file_server_serves_the_directorys_files_and_nothing_else(tmp_path: Path) -> None:
    root = write_model(tmp_path / "model")
    (tmp_path / "secret").write_bytes(b"operator secret")
    (root / "escape").symlink_to(tmp_path / "secret")  # a link out of the directory
    with serving(root) as port:
        status, body = get(port, "/weights/model-00001.safetensors")
        assert status == 200 and body == (root / "weights/model-00001.safetensors").read_bytes()
        assert get(port, "/weights/model-00001.safetensors", "HEAD") == (200, b"")
        assert get(port, "/healthz") == (200, b"ok\n")
        for path in (
            "/",
            "/escape",
            "/../secret",
            "/%2e%2e/secret",
            "/weights/../config.json",
            "/nope",
            "//etc/passwd",
        ):
            assert get(port, path)[0] == 404, path
        (root / "dir").mkdir()
        assert get(port, "/dir")[0] == 404  # no listings
        assert get(port, "/weights/model-00001.safetensors", "POST")[0] == 501  # read-only


def _verify_args(tmp_path: Path, model: Path, via: str, wait: float = 0) -> list[str]:
    signature = tmp_path / "model.sig"
    signature.write_bytes(sign(model, KEY))
    key = tmp_path / "publisher.pem"
    key.write_bytes(KEY.public_pem)
    into = tmp_path / "fetched"
    return [
        "verify", "--key", f"publisher={key}", "--signature", str(signature), "--quiet",
        "--source", "https://models.example/m", "--via", via, "--wait", str(wait),
        "--fetch-into", str(into), str(into),
    ]  # fmt: skip


def test_a_model_server_verifies_what_it_fetched_from_the_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = write_model(tmp_path / "model")
    cache = tmp_path / "cache"
    shutil.copytree(model, cache)
    with serving(cache) as port:
        args = _verify_args(tmp_path, model, f"http://127.0.0.1:{port}")
        assert cli(args) == 0, capsys.readouterr().out
        assert capsys.readouterr().out.startswith("verified sha256:")
        assert (tmp_path / "fetched" / "weights" / "model-00001.safetensors").read_bytes() == (
            model / "weights" / "model-00001.safetensors"
        ).read_bytes()
        flip_byte(
            cache / "weights" / "model-00001.safetensors"
        )  # a cache that serves other bytes (tampered, or a lying cache pod)
        assert cli(args) == 1
        assert "not verified: DigestMismatch" in capsys.readouterr().out
        (cache / "weights" / "model-00001.safetensors").unlink()
        assert cli(args) == 1
        assert "not verified" in capsys.readouterr().out


def test_the_model_server_waits_for_a_cache_that_is_still_starting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = write_model(tmp_path / "model")
    with serving(model) as port:
        pass  # a free port with nothing listening on it now
    args = _verify_args(tmp_path, model, f"http://127.0.0.1:{port}")
    started = time.monotonic()
    assert cli(args) == 1  # no --wait: one attempt
    assert "not verified: SourceUnreachable" in capsys.readouterr().out
    assert time.monotonic() - started < 10

    cache = serving(model, port)
    up: list[float] = []
    late = threading.Timer(2.0, lambda: up.append(cache.__enter__()))  # the cache pod comes up 2 s later
    late.start()
    try:
        assert cli(_verify_args(tmp_path, model, f"http://127.0.0.1:{port}", wait=30)) == 0
        assert up, "verified before the cache was up"
    finally:
        late.join()
        cache.__exit__(None, None, None)


def test_plain_http_goes_only_to_loopback_unless_fetching_from_the_cache() -> None:
    with pytest.raises(VerificationError) as refused:
        HttpClient(ssl_context(None)).open("http://192.0.2.10:8090/weights.bin")  # refused before connecting
    assert refused.value.reason == "InsecureSource"
    cache = urllib.parse.urlsplit("http://10.96.0.20:8090/weights.bin")
    assert scheme_allowed(cache, plain_http=True) and not scheme_allowed(cache, plain_http=False)
    assert scheme_allowed(urllib.parse.urlsplit("http://127.0.0.1:8090/x"), plain_http=False)
    assert not scheme_allowed(urllib.parse.urlsplit("ftp://10.96.0.20/x"), plain_http=True)

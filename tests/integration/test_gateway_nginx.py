"""The generated gateway configuration running in a real nginx (Debian's), in front of a real upstream."""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelguard.builders.gateway import GatewayConfig, keys_map, nginx_conf
from modelguard.domain import gateway_abuse
from tests.harness.controlplane import free_port
from tests.harness.nginx import RunningGateway, call, echo_upstream, run_nginx

KEYS = {"alice": "alice-key-0123456789abcdef", "bob": "bob-key-0123456789abcdef0"}
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def local(tmp_path: Path, upstream: int, **settings: object) -> GatewayConfig:
    """A gateway configuration on loopback with its files under tmp_path/gw (authenticated unless told)."""
    base: dict[str, object] = {
        "upstream_port": upstream,
        "authenticated": True,
        "listen": "127.0.0.1",
        "port": free_port(),
        "status_port": free_port(),
        "keys_file": str(tmp_path / "gw" / "clients.map"),
        "temp_dir": str(tmp_path / "gw" / "t"),
    }
    return GatewayConfig(**{**base, **settings})  # type: ignore[arg-type]


def _start(tmp: Path, cfg: GatewayConfig, keys: dict[str, str] | None) -> Iterator[RunningGateway]:
    with run_nginx(
        tmp, nginx_conf(cfg), cfg.port, cfg.status_port, keys_map(keys) if keys else None, Path(cfg.keys_file)
    ) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def upstream() -> Iterator[int]:
    with echo_upstream(free_port()) as port:
        yield port


@pytest.fixture
def gateway(tmp_path: Path, upstream: int) -> Iterator[RunningGateway]:
    cfg = local(tmp_path, upstream, requests_per_second=1, burst=3, max_body_size="1k")
    yield from _start(tmp_path / "gw", cfg, KEYS)


def test_no_key_and_wrong_key_are_refused(gateway: RunningGateway) -> None:
    assert call(f"{gateway.url}/v1/predict")[0] == 401
    assert call(f"{gateway.url}/v1/predict", {"Authorization": "Bearer not-a-valid-key-000000"})[0] == 401
    assert call(f"{gateway.url}/v1/predict", {"X-API-Key": "wrong-key-000000000000"})[0] == 401


def test_good_key_is_proxied_with_the_client_id_and_without_the_key(gateway: RunningGateway) -> None:
    status, body = call(f"{gateway.url}/v1/predict", {"Authorization": f"Bearer {KEYS['alice']}"})
    assert status == 200
    assert body == {"path": "/v1/predict", "client": "alice", "authorization": None, "x_api_key": None}
    status, body = call(f"{gateway.url}/v1/predict", {"X-API-Key": KEYS["bob"]})
    assert (status, body["client"]) == (200, "bob")


def test_each_client_is_rate_limited_on_its_own(gateway: RunningGateway) -> None:
    bob = {"Authorization": f"Bearer {KEYS['bob']}"}
    statuses = [call(f"{gateway.url}/v1/predict", bob)[0] for _ in range(10)]
    assert statuses[:4] == [200, 200, 200, 200]  # 1 + burst 3, no delay
    assert 429 in statuses[4:]
    assert call(f"{gateway.url}/v1/predict", {"Authorization": f"Bearer {KEYS['alice']}"})[0] == 200


def test_oversized_body_is_refused(gateway: RunningGateway) -> None:
    alice = {"Authorization": f"Bearer {KEYS['alice']}", "Content-Type": "application/json"}
    assert call(f"{gateway.url}/v1/predict", alice, b"x" * 512)[0] == 200
    assert call(f"{gateway.url}/v1/predict", alice, b"x" * 4096)[0] == 413


def test_access_log_names_clients_never_keys(gateway: RunningGateway) -> None:
    call(f"{gateway.url}/v1/predict", {"Authorization": f"Bearer {KEYS['alice']}"})
    call(f"{gateway.url}/v1/predict", {"Authorization": "Bearer wrong-key-0000000000000000"})
    time.sleep(0.2)
    lines = [json.loads(line) for line in gateway.log.read_text().splitlines() if line.startswith("{")]
    assert {"client": "alice", "status": 200}.items() <= next(r for r in lines if r["client"] == "alice").items()
    assert any(r["status"] == 401 and r["client"] == "" for r in lines)
    text = gateway.log.read_text()
    assert KEYS["alice"] not in text and "wrong-key" not in text


def test_status_port_serves_nginx_status(gateway: RunningGateway) -> None:
    with urllib.request.urlopen(f"{gateway.status_url}/status", timeout=5) as response:
        assert b"Active connections" in response.read()


def test_without_authentication_limits_by_address(tmp_path: Path, upstream: int) -> None:
    cfg = GatewayConfig(
        upstream_port=upstream,
        authenticated=False,
        requests_per_second=1,
        burst=1,
        listen="127.0.0.1",
        port=free_port(),
        status_port=free_port(),
        temp_dir=str(tmp_path / "open" / "t"),
    )
    for gw in _start(tmp_path / "open", cfg, None):
        assert call(f"{gw.url}/x")[0] == 200
        assert 429 in [call(f"{gw.url}/x")[0] for _ in range(5)]


def test_model_card_is_public_json(tmp_path: Path, upstream: int) -> None:
    from modelguard.builders.gateway import model_card

    card = model_card(
        "fraud",
        "3.1.0",
        "sha256:" + "a" * 64,
        {
            "owner": "risk@example.com",
            "intendedUse": "fraud review",
            "limitations": ["EU only"],
            "trainingData": [{"name": "internal"}],
        },
    )
    public = Path(tempfile.mkdtemp(prefix="mg-card-"))  # nginx workers (nobody) read it at request time
    public.chmod(0o755)
    (public / "model-card.json").write_text(card)
    (public / "model-card.json").chmod(0o644)
    cfg = local(tmp_path, upstream, model_card_file=str(public / "model-card.json"))
    for gw in _start(tmp_path / "gw", cfg, KEYS):
        status, body = call(f"{gw.url}/model-card")  # no key needed: this is for end users
        assert status == 200
        assert body["intendedUse"] == "fraud review" and body["limitations"] == ["EU only"]
        assert "trainingData" not in body  # only what end users are meant to see
        assert call(f"{gw.url}/v1/predict")[0] == 401
    shutil.rmtree(public)


# Keys an attacker with write access to the API key Secret might choose: nginx reads a map source value that
# starts with "~" as a regular expression, and "." then matches any character. Each must match only itself.
HOSTILE_KEYS = {
    "alice": "alice-key-0123456789abcdef",
    "mallory": "~................",  # as a pattern: any string of 16 or more characters, alice's key among them
    "trudy": "~alice-key-0123456789",  # as a pattern (unanchored): alice's key too
    "eve": "\\..............-",  # not URL-safe: refused outright (see the unit tests)
}


@pytest.fixture
def hostile_gateway(tmp_path: Path, upstream: int) -> Iterator[RunningGateway]:
    cfg = local(tmp_path, upstream)
    yield from _start(tmp_path / "gw", cfg, {k: v for k, v in HOSTILE_KEYS.items() if k != "eve"})


def test_keys_are_matched_literally_never_as_patterns(hostile_gateway: RunningGateway) -> None:
    url = f"{hostile_gateway.url}/v1/predict"
    assert call(url, {"X-API-Key": HOSTILE_KEYS["alice"]})[0] == 200
    assert call(url, {"X-API-Key": HOSTILE_KEYS["alice"]})[1]["client"] == "alice"  # not mallory's pattern
    assert call(url, {"X-API-Key": "anything-sixteen-chars-long"})[0] == 401  # mallory's pattern matches nothing
    assert call(url, {"X-API-Key": "xx-alice-key-0123456789-xx"})[0] == 401  # trudy's pattern neither
    assert call(url, {"X-API-Key": HOSTILE_KEYS["mallory"]})[1]["client"] == "mallory"  # literal: still works
    assert call(url, {"X-API-Key": HOSTILE_KEYS["trudy"]})[1]["client"] == "trudy"


@pytest.fixture
def collector() -> Iterator[tuple[socket.socket, str]]:
    """A UDP socket on loopback standing in for the operator's refusal collector."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    try:
        yield sock, f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def received(sock: socket.socket, at_least: int, seconds: float = 5.0) -> list[bytes]:
    got: list[bytes] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            got.append(sock.recv(4096))
        except TimeoutError:
            if len(got) >= at_least:
                break
    return got


def test_refused_requests_and_only_those_reach_the_collector(
    tmp_path: Path, upstream: int, collector: tuple[socket.socket, str]
) -> None:
    """Issue 19 (abuse monitoring): nginx sends one datagram per 401 and per 429, none for what it serves, with
    the client id and never a key; each is what the operator's parser reads as a refusal."""
    sock, address = collector
    cfg = local(tmp_path, upstream, requests_per_second=1, burst=2, events_to=address)
    for gw in _start(tmp_path / "gw", cfg, KEYS):
        url = f"{gw.url}/v1/predict"
        assert call(url)[0] == 401
        assert call(url, {"X-API-Key": "wrong-key-000000000000"})[0] == 401
        bob = [call(url, {"Authorization": f"Bearer {KEYS['bob']}"})[0] for _ in range(8)]
        served, limited = bob.count(200), bob.count(429)
        assert served >= 3 and limited >= 1, bob
        assert call(f"{gw.url}/healthz")[0] == 200
        datagrams = received(sock, 2 + limited)
    assert len(datagrams) == 2 + limited  # nothing for the requests it served
    refusals = [gateway_abuse.parse(d) for d in datagrams]
    assert sorted((r.reason, r.client) for r in refusals if r) == sorted(
        [("unauthenticated", "-")] * 2 + [("rate-limited", "bob")] * limited
    )
    assert all(r is not None and r.remote == "127.0.0.1" for r in refusals)
    text = b"".join(datagrams)
    assert KEYS["bob"].encode() not in text and b"wrong-key" not in text


# Issue 27, item 10: nginx matches a map's string sources case-insensitively, so the upper- and lower-case forms of
# a key were both accepted, and two keys differing only in case made nginx refuse the whole configuration (every
# client of the gateway locked out). A key matches only in its exact case.
CASED_KEYS = {"alice": "Alice-Key-0123456789abcdef", "bob": KEYS["bob"], "carol": "Carol.+/=_~-Key-0123456789"}
CASE_TWINS = {"alice": "Alice-Key-0123456789abcdef", "mallory": "ALICE-KEY-0123456789ABCDEF", "bob": KEYS["bob"]}


def _case_variants(key: str) -> list[str]:
    return [v for v in {key.lower(), key.upper(), key.swapcase(), key[0].swapcase() + key[1:]} if v != key]


def test_a_key_is_accepted_only_in_its_exact_case(tmp_path: Path, upstream: int) -> None:
    for gw in _start(tmp_path / "gw", local(tmp_path, upstream), CASED_KEYS):
        url = f"{gw.url}/v1/predict"
        for variant in [v for key in CASED_KEYS.values() for v in _case_variants(key)]:
            assert call(url, {"X-API-Key": variant})[0] == 401, "a key in another case is not the key"
            assert call(url, {"Authorization": f"Bearer {variant}"})[0] == 401
        assert call(url, {"X-API-Key": "CarolX+/=_~-Key-0123456789"})[0] == 401  # every character is itself
        # the keys themselves, each its own client, as before
        assert call(url, {"X-API-Key": CASED_KEYS["alice"]}) == (200, _seen("alice"))
        assert call(url, {"Authorization": f"Bearer {CASED_KEYS['bob']}"}) == (200, _seen("bob"))
        assert call(url, {"X-API-Key": CASED_KEYS["carol"]}) == (200, _seen("carol"))


def test_keys_differing_only_in_case_are_two_clients_and_the_configuration_loads(tmp_path: Path, upstream: int) -> None:
    for gw in _start(tmp_path / "gw", local(tmp_path, upstream), CASE_TWINS):
        url = f"{gw.url}/v1/predict"
        assert call(url, {"X-API-Key": CASE_TWINS["alice"]}) == (200, _seen("alice"))
        assert call(url, {"X-API-Key": CASE_TWINS["mallory"]}) == (200, _seen("mallory"))
        assert call(url, {"Authorization": f"Bearer {CASE_TWINS['bob']}"}) == (200, _seen("bob"))  # untouched
        assert call(url, {"X-API-Key": CASE_TWINS["alice"].lower()})[0] == 401
        text = gw.log.read_text()
        assert all(key not in text for key in CASE_TWINS.values())


def _seen(client: str) -> dict[str, str | None]:
    return {"path": "/v1/predict", "client": client, "authorization": None, "x_api_key": None}

"""The gateway: nginx configured by the operator (pure). See docs/adr/0006-gateway-nginx.md.

Clients send `Authorization: Bearer <key>` (or `X-API-Key: <key>`); a `map` turns the key into the
client id, which is what rate limiting counts by and what the access log records. The map lives in a
Secret (included from nginx.conf, which is a ConfigMap): keys never appear in a ConfigMap or a log.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from modelguard.api.aideployment import AIDeploymentSpec
from modelguard.api.gateway_wire import CLIENT_PATTERN, EVENTS_TAG
from modelguard.builders.network import GATEWAY_PORT, STATUS_PORT

DEFAULT_RPS, DEFAULT_BURST = 10, 20
CONF_DIR = "/etc/modelguard/gateway"
KEYS_DIR = "/etc/modelguard/gateway-keys"
KEY_PATTERN = re.compile(r"^[A-Za-z0-9._~+/=-]{16,256}$")
EVENTS_ADDRESS = re.compile(r"^(\d{1,3}(\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]):\d{1,5}$")


class InvalidKeys(ValueError):
    """The API key Secret has entries that cannot be used; the message names client ids, never keys."""


@dataclass(frozen=True)
class GatewayConfig:
    upstream_port: int
    authenticated: bool
    requests_per_second: int = DEFAULT_RPS
    burst: int = DEFAULT_BURST
    max_body_size: str = "1m"
    timeout_seconds: int = 60
    listen: str = ""  # "" = all addresses (in a pod); tests bind 127.0.0.1
    port: int = GATEWAY_PORT
    status_port: int = STATUS_PORT
    keys_file: str = f"{KEYS_DIR}/clients.map"
    model_card_file: str | None = f"{CONF_DIR}/model-card.json"
    temp_dir: str = "/tmp"  # noqa: S108 (the pod's own emptyDir)
    events_to: str = ""  # IP:port of the operator's refusal collector ("" = none; ADR 0018)


def config_for(spec: AIDeploymentSpec, authenticated: bool, **local: Any) -> GatewayConfig:
    """The gateway configuration an AIDeployment's spec asks for; `local` overrides where it runs (ports,
    paths: the demo and tests run the same configuration in a local nginx)."""
    limit = spec.rate_limit
    return replace(
        GatewayConfig(
            upstream_port=spec.runtime.port,
            authenticated=authenticated,
            requests_per_second=limit.requests_per_second if limit else DEFAULT_RPS,
            burst=limit.burst if limit else DEFAULT_BURST,
            max_body_size=spec.gateway.max_body_size,
            timeout_seconds=spec.gateway.timeout_seconds,
        ),
        **local,
    )


def keys_map(keys: Mapping[str, str]) -> str:
    """The nginx map body: one line per client, `"~^<key, escaped>\\z" "<client id>";`, in stable order."""
    bad_clients = sorted(c for c in keys if not CLIENT_PATTERN.match(c))
    bad_keys = sorted(c for c, k in keys.items() if not KEY_PATTERN.match(k))
    if bad_clients or bad_keys:
        problems = []
        if bad_clients:
            problems.append(f"invalid client ids: {', '.join(c[:63] for c in bad_clients)}")
        if bad_keys:
            problems.append(f"keys that are not 16-256 URL-safe characters, for clients: {', '.join(bad_keys)}")
        raise InvalidKeys("; ".join(problems))
    seen: dict[str, str] = {}
    for client, key in keys.items():
        if key in seen:
            raise InvalidKeys(f"clients {seen[key]} and {client} share a key")
        seen[key] = client
    return "".join(f'"{_exactly(key)}" "{client}";\n' for client, key in sorted(keys.items()))


def _exactly(key: str) -> str:
    """The map source that matches this key and nothing else, in its exact case.

    nginx lowercases a map's string sources and matches them case-insensitively (two keys differing only in case
    even make it refuse the configuration), so every key is a case-sensitive regular expression (`~`), anchored at
    both ends (`\\z`: a trailing newline does not match), with every character that is not a letter or a digit
    escaped (KEY_PATTERN leaves `._~+/=-`, each literal after a backslash in PCRE and kept as written inside an
    nginx quoted string). Keys are distinct, so at most one source matches a request.
    """
    return "~^" + "".join(c if c.isascii() and c.isalnum() else "\\" + c for c in key) + "\\z"


def nginx_conf(cfg: GatewayConfig) -> str:
    listen = f"{cfg.listen}:" if cfg.listen else ""
    tmp = cfg.temp_dir
    if cfg.authenticated:
        identity = f"""
    map $http_authorization $bearer_key {{
        default "";
        "~^Bearer\\s+(?<token>\\S+)$" $token;
    }}
    map $http_x_api_key $api_key {{
        default $bearer_key;
        "~.+" $http_x_api_key;
    }}
    map $api_key $client_id {{
        default "";
        include {cfg.keys_file};
    }}"""
        guard = """
            if ($client_id = "") {
                return 401 '{"error":"missing or invalid API key"}\\n';
            }"""
        limit_key = "$client_id"
    else:
        identity = """
    map $remote_addr $client_id {
        default "anonymous";
    }"""
        guard = ""
        limit_key = "$binary_remote_addr"
    card = (
        f"""
        location = /model-card {{
            limit_req zone=per_client burst={cfg.burst} nodelay;
            default_type application/json;
            alias {cfg.model_card_file};
        }}"""
        if cfg.model_card_file
        else ""
    )
    return f"""# Generated by ModelGuard. Do not edit: the operator reverts changes.
worker_processes auto;
pid {tmp}/nginx.pid;
error_log stderr warn;
events {{
    worker_connections 1024;
}}
http {{
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server_tokens off;
    default_type application/json;
{identity}
    log_format audit escape=json '{{"time":"$time_iso8601","client":"$client_id","remote":"$remote_addr",'
                                 '"method":"$request_method","uri":"$uri","status":$status,'
                                 '"bytes_in":$request_length,"bytes_out":$bytes_sent,"seconds":$request_time}}';
    access_log /dev/stdout audit;{_refusals(cfg)}
    limit_req_zone {limit_key} zone=per_client:10m rate={cfg.requests_per_second}r/s;
    limit_req_status 429;
    limit_req_log_level warn;
    client_max_body_size {cfg.max_body_size};
    server {{
        listen {listen}{cfg.port};
        location = /healthz {{
            access_log off;
            return 200 '{{"status":"ok"}}\\n';
        }}{card}
        location / {{{guard}
            limit_req zone=per_client burst={cfg.burst} nodelay;
            proxy_pass http://127.0.0.1:{cfg.upstream_port};
            proxy_set_header Authorization "";
            proxy_set_header X-API-Key "";
            proxy_set_header X-ModelGuard-Client $client_id;
            proxy_read_timeout {cfg.timeout_seconds}s;
            proxy_http_version 1.1;
        }}
    }}
    server {{
        listen {listen}{cfg.status_port};
        access_log off;
        location = /status {{
            stub_status;
        }}
        location = /healthz {{
            return 200 '{{"status":"ok"}}\\n';
        }}
    }}
}}
"""


def _refusals(cfg: GatewayConfig) -> str:
    """Requests refused for a missing or wrong key (401) or over the rate limit (429) also go, one syslog
    datagram each, to the operator, which counts them per client (best effort: UDP, never blocks a request)."""
    if not cfg.events_to:
        return ""
    if not EVENTS_ADDRESS.match(cfg.events_to):
        raise ValueError(f"the refusal collector must be IP:port, not {cfg.events_to!r}")
    return f"""
    map $status $modelguard_refused {{
        401 1;
        429 1;
        default 0;
    }}
    access_log syslog:server={cfg.events_to},facility=local7,severity=warn,tag={EVENTS_TAG},nohostname audit
               if=$modelguard_refused;"""


def config_hash(conf: str, keys: str) -> str:
    """Changes when the configuration or the keys change (rolls the pods); reveals neither."""
    return hashlib.sha256(f"{conf}\0{hashlib.sha256(keys.encode()).hexdigest()}".encode()).hexdigest()[:16]


def model_card(model: str, version: str, digest: str, card: Mapping[str, object]) -> str:
    """What end users may read at /model-card (TS 104 223 5.3.1, 5.1.4-5): public facts only."""
    import json

    keys = ("owner", "intendedUse", "limitations", "prohibitedUses", "dataUsage", "license", "lastReviewed")
    body = {"model": model, "version": version, "digest": digest, **{k: card[k] for k in keys if card.get(k)}}
    return json.dumps(body, indent=2, sort_keys=True) + "\n"

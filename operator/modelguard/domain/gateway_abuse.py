"""Abuse at the gateways: refused requests counted per client, summed up as audit records (pure).

Every gateway sends one syslog datagram for each request it refuses with 401 (no or a wrong API key) or 429
(over the client's rate limit) to the operator (builders/gateway.py, ADR 0018). The operator attributes a
datagram to an AIDeployment by its source address, never by what it says, counts it per client in metrics
and sums a window's refusals per AIDeployment into one `GatewayAbuse` decision record. What a datagram says
is untrusted: it is parsed strictly, and every table it could grow (clients, deployments) is bounded.
"""

from __future__ import annotations

import ipaddress
import json
from collections import Counter, OrderedDict
from dataclasses import dataclass, field

from modelguard.api.gateway_wire import CLIENT_PATTERN, EVENTS_TAG
from modelguard.domain.audit import Entry, ObjectRef

MAX_DATAGRAM = 2048
REASONS = {401: "unauthenticated", 429: "rate-limited"}
UNKNOWN_CLIENT = "-"  # a 401: the request named no client the gateway knows
OTHER_CLIENT = "other"  # the metrics label once a deployment or the operator has counted too many clients
CLIENTS_LISTED = 10  # per record; the rest are summed up as "and N more"
SOURCES_KEPT = 5  # addresses of unauthenticated requests per deployment and window
_MARK = f" {EVENTS_TAG}: ".encode()


@dataclass(frozen=True)
class Refusal:
    reason: str  # one of REASONS' values
    client: str  # the client id, or UNKNOWN_CLIENT
    remote: str  # the address the request came from (in the cluster: a pod or a node)


def parse(datagram: bytes) -> Refusal | None:
    """The refusal a gateway's syslog datagram reports, or None for anything else (malformed, other tag,
    another status, a client id the gateway could not have written)."""
    if len(datagram) > MAX_DATAGRAM or not datagram.startswith(b"<"):
        return None
    at = datagram.find(_MARK)
    if at < 0:
        return None
    try:
        line = json.loads(datagram[at + len(_MARK) :])
    except ValueError:
        return None
    if not isinstance(line, dict):
        return None
    status, client, remote = line.get("status"), line.get("client"), line.get("remote")
    if not isinstance(status, int) or status not in REASONS or not isinstance(client, str):
        return None
    if not isinstance(remote, str) or not _address(remote):
        return None
    if client and not CLIENT_PATTERN.match(client):
        return None
    return Refusal(REASONS[status], client or UNKNOWN_CLIENT, remote)


def _address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class SourceBudget:
    """Datagrams accepted per source address: a token bucket each (`rate` per second, `burst` at once), for at
    most `sources` addresses (the longest idle forgotten first). Checked before anything else is done with a
    datagram, so a flood from one address costs a dictionary lookup per packet, not a parse or an API call;
    what is refused is counted as overload."""

    def __init__(self, rate: float = 2000.0, burst: float = 4000.0, sources: int = 4096) -> None:
        self._rate, self._burst, self._sources = rate, burst, sources
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # address -> (tokens, at)

    def take(self, address: str, now: float) -> bool:
        tokens, at = self._buckets.pop(address, (self._burst, now))
        tokens = min(self._burst, tokens + (now - at) * self._rate)
        allowed = tokens >= 1.0
        self._buckets[address] = (tokens - 1.0 if allowed else tokens, now)
        if len(self._buckets) > self._sources:
            self._buckets.popitem(last=False)
        return allowed


@dataclass(frozen=True, order=True)
class Target:
    """The AIDeployment a gateway serves."""

    namespace: str
    deployment: str


class ClientLabels:
    """The client label of a refusal in metrics: the client id while its deployment has counted fewer than
    `per_target` clients, its namespace fewer than `per_namespace` and the operator fewer than `total`, then
    OTHER_CLIENT. A tenant who sends made-up client ids from its own gateway pods cannot grow the operator's
    metrics without bound, nor use up the labels of other namespaces unless it holds many namespaces."""

    def __init__(self, per_target: int = 50, per_namespace: int = 200, total: int = 5000) -> None:
        self._per_target, self._per_namespace, self._total = per_target, per_namespace, total
        self._seen: dict[Target, set[str]] = {}
        self._in_namespace: Counter[str] = Counter()

    def label(self, target: Target, client: str) -> str:
        seen = self._seen.setdefault(target, set())
        if client in seen:
            return client
        full = (
            len(seen) >= self._per_target
            or self._in_namespace[target.namespace] >= self._per_namespace
            or self._in_namespace.total() >= self._total
        )
        if full:
            return OTHER_CLIENT
        seen.add(client)
        self._in_namespace[target.namespace] += 1
        return client


@dataclass
class Window:
    """One deployment's refusals since its last record."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)  # (client, reason) -> requests
    since: int = 0  # the drain round in which its first refusal arrived (older windows are recorded first)
    sources: list[str] = field(default_factory=list)  # of unauthenticated requests, first SOURCES_KEPT

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def add(self, refusal: Refusal) -> None:
        self.counts[(refusal.client, refusal.reason)] += 1
        if refusal.reason == "unauthenticated":
            self._keep(refusal.remote)

    def merge(self, other: Window) -> None:
        self.counts.update(other.counts)
        for source in other.sources:
            self._keep(source)

    def _keep(self, source: str) -> None:
        if source not in self.sources and len(self.sources) < SOURCES_KEPT:
            self.sources.append(source)


class Tally:
    """Refusals per deployment, drained into records. Clients beyond `clients_per_target` in one window are
    counted as OTHER_CLIENT, refusals of deployments beyond `targets` only in `overflow` (and in metrics):
    the table never grows past its bounds, however many deployments or client ids datagrams name."""

    def __init__(self, targets: int = 10_000, clients_per_target: int = 100) -> None:
        self._targets, self._clients = targets, clients_per_target
        self.windows: dict[Target, Window] = {}
        self.overflow = 0  # refusals of deployments the table had no room for (counted, not recorded)
        self._round = 0

    def add(self, target: Target, refusal: Refusal) -> None:
        window = self.windows.get(target)
        if window is None:
            if len(self.windows) >= self._targets:
                self.overflow += 1
                return
            window = self.windows[target] = Window(since=self._round)
        clients = {c for c, _ in window.counts}
        if refusal.client not in clients and len(clients) >= self._clients:
            refusal = Refusal(refusal.reason, OTHER_CLIENT, refusal.remote)
        window.add(refusal)

    def drain(self, limit: int) -> list[tuple[Target, Window]]:
        """At most `limit` deployments taken out of the table, those waiting longest first, then the most
        refused; the others stay and are recorded in a later window with everything they gather until then
        (records per window are bounded, refusals are not dropped, and no tenant's noise, however loud, keeps
        another's refusals from being recorded for longer than the backlog takes at `limit` per window)."""
        self._round += 1
        ranked = sorted(self.windows.items(), key=lambda item: (item[1].since, -item[1].total, item[0]))[:limit]
        for target, _ in ranked:
            del self.windows[target]
        return ranked

    def restore(self, drained: list[tuple[Target, Window]]) -> None:
        """Put back what could not be recorded (the audit log was unavailable): the next window records it."""
        for target, window in drained:
            current = self.windows.setdefault(target, Window(since=window.since))
            current.since = min(current.since, window.since)
            current.merge(window)


def entry(target: Target, window: Window, seconds: int) -> Entry:
    """The audit record of one deployment's refusals in one window."""
    by_reason: Counter[str] = Counter()
    for (_, reason), n in window.counts.items():
        by_reason[reason] += n
    ranked = sorted(window.counts.items(), key=lambda item: (-item[1], item[0]))
    listed = ", ".join(f"{client} {reason} {n}" for (client, reason), n in ranked[:CLIENTS_LISTED])
    if len(ranked) > CLIENTS_LISTED:
        listed += f", and {len(ranked) - CLIENTS_LISTED} more"
    unauthenticated, limited = by_reason["unauthenticated"], by_reason["rate-limited"]
    details = {
        "reason": f"{unauthenticated} requests without a valid API key and {limited} over the rate limit in {seconds}s",
        "unauthenticated": str(unauthenticated),
        "rateLimited": str(limited),
        "clients": listed,
        "window": f"{seconds}s",
    }
    if window.sources:
        details["sources"] = ", ".join(window.sources)
    return Entry(
        "Decision", "GatewayAbuse", ObjectRef("AIDeployment", target.namespace, target.deployment), details=details
    )

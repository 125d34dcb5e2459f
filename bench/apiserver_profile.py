"""Where the API server's CPU goes during a benchmark: a CPU profile from its /debug/pprof (the control plane
started with profiling on), summarised by what the time was spent on. Used by bench_scale.py --profile."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from tests.harness.controlplane import ControlPlane

# first match wins: function name prefixes -> what the time was spent on
CATEGORIES = (
    (
        "server-side apply and managed fields",
        (
            "sigs.k8s.io/structured-merge-diff",
            "k8s.io/apiserver/pkg/endpoints/handlers/fieldmanager",
            "k8s.io/apimachinery/pkg/util/managedfields",
        ),
    ),
    (
        "JSON encoding and decoding",
        (
            "encoding/json",
            "sigs.k8s.io/json",
            "k8s.io/apimachinery/pkg/runtime/serializer/json",
            "github.com/json-iterator",
            "k8s.io/kube-openapi/pkg/util/proto",
            "k8s.io/apimachinery/pkg/apis/meta/v1/unstructured",
        ),
    ),
    (
        "protobuf encoding and decoding",
        (
            "google.golang.org/protobuf",
            "github.com/gogo/protobuf",
            "k8s.io/apimachinery/pkg/runtime/serializer/protobuf",
        ),
    ),
    (
        "admission (webhook calls, CEL, policies)",
        ("k8s.io/apiserver/pkg/admission", "k8s.io/apiserver/pkg/cel", "github.com/google/cel-go"),
    ),
    ("watch cache and event fan-out", ("k8s.io/apiserver/pkg/storage/cacher",)),
    ("etcd client", ("go.etcd.io", "google.golang.org/grpc", "k8s.io/apiserver/pkg/storage/etcd3")),
    (
        "authentication and authorization",
        (
            "k8s.io/apiserver/pkg/authentication",
            "k8s.io/apiserver/pkg/authorization",
            "k8s.io/kubernetes/plugin/pkg/auth",
            "k8s.io/apiserver/pkg/endpoints/filters.withAuth",
        ),
    ),
    ("TLS and crypto", ("crypto/", "vendor/golang.org/x/crypto")),
    (
        "HTTP serving, routing and network I/O",
        ("net/http", "net.", "internal/poll", "syscall", "golang.org/x/net/http2", "github.com/emicklei/go-restful"),
    ),
    ("Go runtime: allocation and garbage collection", ("runtime.",)),
)


def record(plane: ControlPlane, seconds: int, out: Path) -> Path:
    """A CPU profile of the API server over the next `seconds`."""
    data = subprocess.run(
        [
            str(plane.bin / "kubectl"),
            "--kubeconfig",
            str(plane.kubeconfig),
            "get",
            "--raw",
            f"/debug/pprof/profile?seconds={seconds}",
        ],
        capture_output=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    out.write_bytes(data)
    return out


UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0}
GC = ("runtime.gcBgMarkWorker", "runtime.bgsweep", "runtime.bgscavenge", "runtime.gcStart")


def _seconds(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)([a-zµ]+)", text)
    return float(m.group(1)) * UNITS.get(m.group(2), 0.0) if m else 0.0


def classify(frames: list[str]) -> str:
    """What one sampled stack (leaf first) was doing: the category of the frame nearest the leaf that has one
    (so allocation inside JSON decoding counts as JSON); stacks of the garbage collector's own goroutines are
    garbage collection; anything else is other."""
    for frame in frames:
        for category, prefixes in CATEGORIES:
            if category.startswith("Go runtime"):
                continue
            if frame.startswith(prefixes):
                return category
    if any(frame.startswith(GC) for frame in frames):
        return "Go runtime: allocation and garbage collection"
    return "other"


def summarise(profile: Path) -> list[tuple[str, float]]:
    """Share of the sampled CPU time per category (each sample's whole stack classified), largest first."""
    go = shutil.which("go") or "/usr/local/go/bin/go"
    text = subprocess.run(
        [go, "tool", "pprof", "-traces", str(profile)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
        env={**os.environ, "PPROF_TMPDIR": str(profile.parent)},
    ).stdout
    totals: dict[str, float] = {}
    for block in re.split(r"^-+\+-+$", text, flags=re.M)[1:]:
        lines = [line for line in block.strip("\n").splitlines() if line.strip()]
        if not lines:
            continue
        first = lines[0].split()
        if len(first) < 2:
            continue
        value, frames = _seconds(first[0]), [first[1], *(line.strip() for line in lines[1:])]
        what = classify(frames)
        totals[what] = totals.get(what, 0.0) + value
    whole = sum(totals.values()) or 1.0
    return sorted(((k, 100 * v / whole) for k, v in totals.items()), key=lambda kv: -kv[1])

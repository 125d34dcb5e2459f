"""`make e2e-local`: ModelGuard as its users run it, on a one-node cluster whose pods really run.

Builds or reuses the control plane, the node binaries and the images (hack/images/build.sh); starts the
control plane and a real node (containerd + runc, kubelet, kube-proxy, kube-router for NetworkPolicy); pushes the
images by digest to a registry on loopback; installs charts/modelguard with Helm as the README says
(2 replicas, webhook certificate from the chart); runs the e2e/ suite; stops everything it started and
undoes what it changed on the host. State lives under $MODELGUARD_E2E_DIR (default /tmp/modelguard-e2e).

`--keep` leaves the cluster running after the suite (Ctrl-C stops it) for debugging.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.harness.certs import LocalCA  # noqa: E402
from tests.harness.controlplane import ControlPlane, Process, free_port, testbin  # noqa: E402
from tests.harness.node import GATEWAY, Node, nodebin  # noqa: E402

NAMESPACE = "modelguard-system"
TAGS = ("pause", "operator", "gateway", "model-server")


def log(message: str) -> None:
    print(f"[e2e-local] {message}", file=sys.stderr, flush=True)


def sh(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    result = subprocess.run(list(args), capture_output=True, text=True, check=False, env=env, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    return result.stdout


class ImageRegistry:
    """Debian's docker-registry on loopback, plain http, no auth: where the node pulls images from."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        config = workdir / "config.yml"
        config.write_text(
            json.dumps(
                {
                    "version": 0.1,
                    "log": {"level": "warn", "accesslog": {"disabled": True}},
                    "storage": {"filesystem": {"rootdirectory": str(workdir / "data")}},
                    "http": {"addr": f"127.0.0.1:{self.port}"},
                }
            )
        )
        binary = shutil.which("docker-registry") or "/usr/bin/docker-registry"
        self.process = Process("image-registry", [binary, "serve", str(config)], workdir / "registry.log")

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if (
                subprocess.run(["curl", "-sf", f"http://{self.host}/v2/"], capture_output=True, check=False).returncode
                == 0
            ):
                return
            time.sleep(0.2)
        raise RuntimeError(f"image registry not ready:\n{self.process.tail()}")

    def push(self, layout: Path, tag: str) -> str:
        """Push oci:layout:tag as modelguard/<tag>; returns the reference pinned by digest."""
        target = f"{self.host}/modelguard/{tag}"
        digest_file = self.workdir / f"{tag}.digest"
        sh(
            "skopeo",
            "copy",
            "--quiet",
            "--dest-tls-verify=false",
            "--preserve-digests",
            "--digestfile",
            str(digest_file),
            f"oci:{layout}:{tag}",
            f"docker://{target}:e2e",
        )
        return f"{target}@{digest_file.read_text().strip()}"


def build_images() -> Path:
    result = subprocess.run(
        ["bash", str(REPO / "hack/images/build.sh")], stdout=subprocess.PIPE, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError("building the images failed; see output above")
    return Path(result.stdout.strip().splitlines()[-1])


def install_chart(plane: ControlPlane, helm: Path, images: dict[str, str], ca: LocalCA, workdir: Path) -> None:
    """The README's helm install, with the images of this run and a CA for the suite's https model source."""
    plane.kubectl("create", "namespace", NAMESPACE)
    plane.kubectl(
        "create", "configmap", "modelguard-e2e-ca", "-n", NAMESPACE, f"--from-literal=ca.crt={ca.pem.decode()}"
    )
    repo, digest = images["operator"].split("@")
    env = {**os.environ, "KUBECONFIG": str(plane.kubeconfig)}
    started = time.monotonic()
    sh(
        str(helm),
        "install",
        "modelguard",
        str(REPO / "charts/modelguard"),
        "--namespace",
        NAMESPACE,
        "--set",
        f"image.repository={repo}",
        "--set",
        f"image.digest={digest}",
        "--set",
        f"gateway.image={images['gateway']}",
        "--set",
        "operator.caBundleConfigMap=modelguard-e2e-ca",
        "--set",
        "gateway.events.windowSeconds=5",  # GatewayAbuse records within seconds of the suite's refusals
        "--wait",
        "--timeout",
        "5m",
        env=env,
        timeout=360,
    )
    log(f"chart installed and ready in {time.monotonic() - started:.0f}s")
    sh(str(helm), "test", "modelguard", "--namespace", NAMESPACE, "--logs", "--timeout", "3m", env=env, timeout=200)
    log("helm test passed: the webhooks answer through their Service with the trusted certificate")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)  # also when started in the background, where SIGINT is ignored
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the cluster running after the suite")
    parser.add_argument("pytest_args", nargs="*", help="extra arguments for pytest")
    args, extra = parser.parse_known_args()
    args.pytest_args += extra
    if os.geteuid() != 0:
        log("needs root: containerd, the kubelet and iptables change the host")
        return 2
    t0 = time.monotonic()
    log("building or reusing the control plane, the node binaries and the images ...")
    bins, nbins, layout = testbin(), nodebin(), build_images()
    log(f"binaries and images ready ({time.monotonic() - t0:.0f}s)")
    workdir = Path(os.environ.get("MODELGUARD_E2E_DIR", "/tmp/modelguard-e2e"))
    if workdir.exists():
        log(f"cleaning up after an earlier run in {workdir} ...")
        Node.cleanup_leftovers(workdir / "node", nbins, processes_under=workdir)
        shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    source_ca = LocalCA.create("modelguard-e2e-source-ca")
    source_ca.save(workdir, "source-ca")
    registry = ImageRegistry(workdir / "registry")
    plane = ControlPlane(workdir / "cluster", bin=bins, pod_gateway=GATEWAY)
    node: Node | None = None
    code = 1
    try:
        registry.start()
        images = {tag: registry.push(layout, tag) for tag in TAGS}
        log("images pushed: " + ", ".join(f"{t}={r.split('@')[1][:19]}" for t, r in images.items()))
        pause_archive = workdir / "pause.tar"
        sh("skopeo", "copy", "--quiet", f"oci:{layout}:pause", f"oci-archive:{pause_archive}:{images['pause']}")
        node = Node(plane, workdir / "node", registry.host, pause_archive, images["pause"], bin=nbins)
        node.prepare()
        plane.start()
        node.start()
        log(f"node {node.name} Ready in {node.start_seconds:.0f}s, container runtime {node.runtime_version()}")
        install_chart(plane, bins / "helm", images, source_ca, workdir)
        env = {
            **os.environ,
            "KUBECONFIG": str(plane.kubeconfig),
            "PATH": f"{bins}:{REPO / '.venv/bin'}:{os.environ['PATH']}",
            "MODELGUARD_E2E_MODEL_SERVER_IMAGE": images["model-server"],
            **{f"MODELGUARD_E2E_{t.upper().replace('-', '_')}_IMAGE_REF": f"docker://{images[t]}" for t in TAGS},
            "MODELGUARD_E2E_SOURCE_CA": str(workdir / "source-ca"),
            "MODELGUARD_E2E_NODE": node.name,
        }
        exports = {k: v for k, v in env.items() if k.startswith("MODELGUARD_E2E_") or k in ("KUBECONFIG", "PATH")}
        (workdir / "e2e.env").write_text("".join(f"export {k}={shlex.quote(v)}\n" for k, v in exports.items()))
        started = time.monotonic()
        code = subprocess.run(
            [str(REPO / ".venv/bin/pytest"), str(REPO / "e2e"), "-v", "-p", "no:cacheprovider", *args.pytest_args],
            env=env,
            check=False,
            cwd=REPO,
        ).returncode
        log(f"e2e suite {'passed' if code == 0 else 'FAILED'} in {time.monotonic() - started:.0f}s")
        if args.keep:
            log(f"cluster kept: source {workdir / 'e2e.env'}  (then kubectl, pytest e2e; Ctrl-C stops it)")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    except (Exception, KeyboardInterrupt) as exc:
        log(f"FAILED: {exc!r}")
        if node is not None:
            print(node.logs(30), file=sys.stderr)
        print(plane.logs(30), file=sys.stderr)
        code = 1
    finally:
        log("stopping the node, the control plane and the registry; undoing host changes ...")
        if node is not None:
            node.stop()
        plane.stop()
        registry.process.stop()
        log(f"done in {time.monotonic() - t0:.0f}s")
    return code


if __name__ == "__main__":
    sys.exit(main())

"""A real node beside the local control plane: containerd + runc from Debian, kubelet and kube-proxy 1.34,
CNI bridge, and kube-router's network policy controller enforcing NetworkPolicy (iptables + ipset).
Used by `make e2e-local` (hack/e2e_local.py).

Everything it creates lives under its work directory (sockets, containerd root and state, kubelet root,
CNI state, pod logs); what it has to change on the host (sysctls, the bridge, iptables chains, cgroups,
mounts) is recorded and undone by `stop()`, which leaves the machine as it found it. Needs root.
See docs/test-infra.md ("A real node").
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.harness.controlplane import ControlPlane, ControlPlaneError, Process, free_port, wait_ready

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "hack" / "testbin" / "build-node.sh"
BRIDGE = "mg-cni0"
POD_CIDR = "10.244.0.0/24"
GATEWAY = "10.244.0.1"  # the bridge's address: pods reach the API server here (its advertise address)
CNI_BIN = Path("/usr/lib/cni")
# sysctls the kubelet, kube-proxy or the bridge need or set; restored on stop
SYSCTLS = {
    "net.ipv4.ip_forward": "1",
    "net.bridge.bridge-nf-call-iptables": "1",
    "net.bridge.bridge-nf-call-ip6tables": "1",
    "vm.overcommit_memory": None,
    "vm.panic_on_oom": None,
    "kernel.panic": None,
    "kernel.panic_on_oops": None,
    "kernel.keys.root_maxkeys": None,
    "kernel.keys.root_maxbytes": None,
}
# fixed host paths: /var/log/containers (the kubelet's log links), /var/lib/cni (libcni's cache)
HOST_DIRS = ("/var/log/containers", "/var/lib/cni")
# chains the kubelet and kube-proxy create outside their own cleanup
HOST_CHAINS = {
    "filter": ["KUBE-FIREWALL", "KUBE-KUBELET-CANARY"],
    "nat": ["KUBE-KUBELET-CANARY"],
    "mangle": ["KUBE-IPTABLES-HINT", "KUBE-KUBELET-CANARY"],
}


def nodebin() -> Path:
    """Build or reuse kubelet, kube-proxy, kube-router and crictl; progress goes to stderr."""
    result = subprocess.run(["bash", str(BUILD)], stdout=subprocess.PIPE, text=True, check=False)
    if result.returncode != 0:
        raise ControlPlaneError(f"building the node binaries failed (exit {result.returncode}); see output above")
    return Path(result.stdout.strip().splitlines()[-1])


def run(*args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(args), capture_output=True, text=True, check=False, input=stdin, timeout=120)
    if check and result.returncode != 0:
        raise ControlPlaneError(f"{' '.join(args)} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result


def sysctl_path(name: str) -> Path:
    return Path("/proc/sys") / name.replace(".", "/")


@dataclass
class Node:
    plane: ControlPlane
    workdir: Path
    registry: str  # host:port of the plain-http image registry on loopback
    pause_archive: Path  # OCI archive of the pause image, imported into containerd
    pause_image: str  # its reference
    name: str = "e2e-node"
    bin: Path = field(default_factory=nodebin)
    processes: dict[str, Process] = field(default_factory=dict)
    saved_sysctls: dict[str, str] = field(default_factory=dict)
    created_bridge: bool = False
    created_dirs: list[str] = field(default_factory=list)  # host directories the kubelet or CNI will make

    def __post_init__(self) -> None:
        if os.geteuid() != 0:
            raise ControlPlaneError("a real node needs root (containerd, kubelet, iptables)")
        self.workdir = self.workdir.resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.socket = self.workdir / "containerd.sock"
        self.kubelet_port = free_port()

    # -- configuration -------------------------------------------------------------------------

    def _containerd_config(self) -> str:
        d = self.workdir
        cri = 'plugins."io.containerd.grpc.v1.cri"'
        return f"""version = 2
root = "{d / "containerd/root"}"
state = "{d / "containerd/state"}"
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "{self.socket}"
[ttrpc]
  address = "{d / "containerd-ttrpc.sock"}"
[{cri}]
  sandbox_image = "{self.pause_image}"
  # this machine forbids negative oom_score_adj: without this every sandbox fails in runc
  restrict_oom_score_adj = true
  enable_selinux = false
[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"
[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[{cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false
[{cri}.cni]
  bin_dir = "{CNI_BIN}"
  conf_dir = "{d / "cni/net.d"}"
[{cri}.registry.mirrors."{self.registry}"]
  endpoint = ["http://{self.registry}"]
"""

    def _cni_config(self) -> dict[str, object]:
        return {
            "cniVersion": "0.4.0",
            "name": "modelguard-e2e",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": BRIDGE,
                    "isGateway": True,
                    "ipMasq": False,  # pods talk to the cluster only; nothing is masqueraded to the outside
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "dataDir": str(self.workdir / "cni/ipam"),
                        "ranges": [[{"subnet": POD_CIDR, "gateway": GATEWAY}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        }

    def _kubeconfig(self, stem: str, user: str, group: str | None) -> Path:
        cert = self.plane.ca.write(self.plane.pki, stem, self.plane.ca.issue(user, organization=group, client=True))
        path = self.workdir / f"{stem}.kubeconfig"
        path.write_text(self.plane.kubeconfig_text(user, cert=cert))
        return path

    def _kubelet_config(self) -> Path:
        serving = self.plane.ca.write(
            self.plane.pki, "kubelet-serving", self.plane.ca.issue(self.name, hosts=(GATEWAY, self.name))
        )
        config = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "address": GATEWAY,  # the node's address (a loopback node IP is refused by the kubelet)
            "port": self.kubelet_port,
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": free_port(),
            "tlsCertFile": str(serving[0]),
            "tlsPrivateKeyFile": str(serving[1]),
            "authentication": {
                "anonymous": {"enabled": False},
                "webhook": {"enabled": False},
                "x509": {"clientCAFile": str(self.plane.ca_file)},
            },
            "authorization": {"mode": "AlwaysAllow"},  # only the API server holds a client certificate
            "cgroupDriver": "cgroupfs",
            "failSwapOn": False,
            "containerRuntimeEndpoint": f"unix://{self.socket}",
            "podLogsDir": str(self.workdir / "pod-logs"),
            "serializeImagePulls": False,
            "resolvConf": "",
            "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            "maxPods": 110,
            "registerNode": True,
            "syncFrequency": "5s",
            "fileCheckFrequency": "5s",
            "nodeStatusUpdateFrequency": "5s",
        }
        path = self.workdir / "kubelet.yaml"
        path.write_text(json.dumps(config, indent=2))
        return path

    # -- host preparation (undone by stop) --------------------------------------------------------

    def _prepare_host(self) -> None:
        self._record_state()
        if shutil.which("modprobe") and not Path("/proc/sys/net/bridge").exists():
            run("modprobe", "br_netfilter", check=False)
        for name, value in SYSCTLS.items():
            path = sysctl_path(name)
            if not path.exists():
                if value is not None:
                    raise ControlPlaneError(f"sysctl {name} is missing on this machine (br_netfilter not loaded?)")
                continue
            self.saved_sysctls[name] = path.read_text().strip()
            if value is not None:
                path.write_text(value)
        # paths the kubelet (container log links) and libcni (result cache) use whatever they are told
        self.created_dirs = [d for d in HOST_DIRS if not Path(d).exists()]
        # the bridge exists before the API server starts, so its advertise address is local from the start
        if run("ip", "link", "show", BRIDGE, check=False).returncode != 0:
            run("ip", "link", "add", BRIDGE, "type", "bridge")
            self.created_bridge = True
        self._record_state()
        run("ip", "addr", "replace", f"{GATEWAY}/24", "dev", BRIDGE)
        run("ip", "link", "set", BRIDGE, "up")

    def _record_state(self) -> None:
        """What stop() must undo, on disk: a run that was killed is cleaned up by the next (cleanup_leftovers)."""
        state = {
            "sysctls": self.saved_sysctls,
            "created_bridge": self.created_bridge,
            "created_dirs": self.created_dirs,
        }
        (self.workdir / "host-state.json").write_text(json.dumps(state))

    @classmethod
    def cleanup_leftovers(cls, workdir: Path, bin: Path, processes_under: Path) -> None:
        """Undo what a killed run left: its processes (any with `processes_under` in their command line),
        mounts, network and host settings."""
        state_file = workdir / "host-state.json"
        if not state_file.exists():
            return
        state = json.loads(state_file.read_text())
        marker = str(processes_under.resolve()).encode()
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit() and int(proc.name) != os.getpid():
                with contextlib.suppress(OSError):
                    if marker in (proc / "cmdline").read_bytes():
                        os.kill(int(proc.name), 9)
        time.sleep(1)
        node = cls.__new__(cls)
        node.workdir, node.bin, node.processes = workdir.resolve(), bin, {}
        node.saved_sysctls, node.created_bridge = state["sysctls"], state["created_bridge"]
        node.created_dirs = state.get("created_dirs", [])
        node.socket = node.workdir / "containerd.sock"
        node.stop()

    def prepare(self) -> None:
        """Host settings and the bridge; call before the control plane starts (its advertise address)."""
        self._prepare_host()

    # -- lifecycle -----------------------------------------------------------------------------

    def _launch(self, name: str, args: list[str], env: dict[str, str] | None = None) -> Process:
        proc = Process(name, args, self.workdir / f"{name}.log")
        if env is None:
            proc.start()
        else:
            handle = proc.log.open("ab")
            proc.popen = subprocess.Popen(
                args, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, env=env
            )
            handle.close()
        self.processes[name] = proc
        return proc

    def _wait(self, name: str, ready: Callable[[], bool], timeout: float) -> None:
        wait_ready(self.processes[name], ready, timeout, interval=0.3)

    def ctr(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run("ctr", "--address", str(self.socket), "--namespace", "k8s.io", *args, check=check)

    def start_containerd(self) -> None:
        (self.workdir / "cni/net.d").mkdir(parents=True, exist_ok=True)
        (self.workdir / "cni/net.d/10-modelguard.conflist").write_text(json.dumps(self._cni_config(), indent=2))
        config = self.workdir / "containerd.toml"
        config.write_text(self._containerd_config())
        self._launch("containerd", ["containerd", "--config", str(config), "--log-level", "warn"])
        self._wait("containerd", lambda: self.ctr("version", check=False).returncode == 0, 30)
        # containerd 1.6 can garbage-collect a just-written blob before `ctr import` names the image that holds
        # it ("content digest ... not found", seen once in 40 runs): the import is retried, a bounded few times
        for attempt in range(3):
            imported = self.ctr(
                "images", "import", "--index-name", self.pause_image, str(self.pause_archive), check=False
            )
            if imported.returncode == 0:
                break
            if attempt == 2 or "not found" not in imported.stderr:
                raise ControlPlaneError(f"importing the pause image failed: {imported.stderr.strip()[-500:]}")
        # the import also names the image import-<date>@...: the CRI plugin may pick that name and fail
        for line in self.ctr("images", "ls", "-q").stdout.splitlines():
            if line.startswith("import-"):
                self.ctr("images", "rm", line, check=False)

    def runtime_version(self) -> str:
        out = self.plane.kubectl("get", "node", self.name, "-o", "jsonpath={.status.nodeInfo.containerRuntimeVersion}")
        return out.stdout.strip()

    def start(self) -> Node:
        started = time.monotonic()
        self.start_containerd()
        kubelet_kc = self._kubeconfig("kubelet", f"system:node:{self.name}", "system:nodes")
        self._launch(
            "kubelet",
            [
                str(self.bin / "kubelet"),
                f"--config={self._kubelet_config()}",
                f"--kubeconfig={kubelet_kc}",
                f"--root-dir={self.workdir / 'kubelet'}",
                f"--cert-dir={self.workdir / 'kubelet-pki'}",
                f"--hostname-override={self.name}",
                f"--node-ip={GATEWAY}",
                f"--node-labels=modelguard.io/e2e-node=true,kubernetes.io/hostname={self.name}",
                "--v=1",
            ],
        )
        self._wait("kubelet", lambda: self._node_ready(), 120)
        proxy_kc = self._kubeconfig("kube-proxy", "system:kube-proxy", None)
        self._launch(
            "kube-proxy",
            [
                str(self.bin / "kube-proxy"),
                f"--kubeconfig={proxy_kc}",
                f"--hostname-override={self.name}",
                "--proxy-mode=iptables",
                "--cluster-cidr=10.244.0.0/16",
                f"--metrics-bind-address=127.0.0.1:{free_port()}",
                f"--healthz-bind-address=127.0.0.1:{free_port()}",
                "--iptables-localhost-nodeports=false",  # leaves route_localnet alone
                "--conntrack-max-per-core=0",  # leaves nf_conntrack_max alone
                "--v=1",
            ],
        )
        self._start_network_policies()
        self.start_seconds = time.monotonic() - started
        return self

    def _node_ready(self) -> bool:
        out = self.plane.kubectl(
            "get", "node", self.name, "-o", 'jsonpath={.status.conditions[?(@.type=="Ready")].status}', check=False
        )
        return out.returncode == 0 and out.stdout.strip() == "True"

    def _start_network_policies(self) -> None:
        """kube-router's network policy controller only (no routing, no service proxy): iptables + ipset."""
        kubeconfig = self._kubeconfig("kube-router", "system:kube-router", None)
        role = {
            "apiVersion": "v1",
            "kind": "List",
            "items": [
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "ClusterRole",
                    "metadata": {"name": "modelguard-e2e-kube-router"},
                    "rules": [
                        {
                            "apiGroups": [""],
                            "resources": ["pods", "namespaces", "nodes", "services", "endpoints"],
                            "verbs": ["get", "list", "watch"],
                        },
                        {
                            "apiGroups": ["discovery.k8s.io"],
                            "resources": ["endpointslices"],
                            "verbs": ["get", "list", "watch"],
                        },
                        {
                            "apiGroups": ["networking.k8s.io"],
                            "resources": ["networkpolicies"],
                            "verbs": ["get", "list", "watch"],
                        },
                    ],
                },
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "ClusterRoleBinding",
                    "metadata": {"name": "modelguard-e2e-kube-router"},
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "ClusterRole",
                        "name": "modelguard-e2e-kube-router",
                    },
                    "subjects": [
                        {"kind": "User", "name": "system:kube-router", "apiGroup": "rbac.authorization.k8s.io"}
                    ],
                },
            ],
        }
        self.plane.kubectl("apply", "-f", "-", stdin=json.dumps(role))
        self._launch(
            "kube-router",
            [
                str(self.bin / "kube-router"),
                f"--kubeconfig={kubeconfig}",
                f"--hostname-override={self.name}",
                "--run-firewall=true",
                "--run-router=false",
                "--run-service-proxy=false",
                "--enable-cni=false",
                "--enable-ipv6=false",
                "--service-cluster-ip-range=10.0.0.0/16",
                "--health-port=0",
                "--metrics-port=0",
                "--v=1",
            ],
        )
        time.sleep(2)
        if not self.processes["kube-router"].alive():
            raise ControlPlaneError(f"kube-router exited:\n{self.processes['kube-router'].tail()}")

    # -- teardown: leave the machine as found ---------------------------------------------------

    def stop(self) -> None:
        router = self.processes.get("kube-router")
        if router is not None:
            router.stop()
        self._clean_kube_router()
        proxy = self.processes.get("kube-proxy")
        if proxy is not None:
            proxy.stop()
        run(str(self.bin / "kube-proxy"), "--cleanup", check=False)
        if self.processes.get("containerd") is not None and self.processes["containerd"].alive():
            self._kill_pods()
        self._kill_shims()
        kubelet = self.processes.get("kubelet")
        if kubelet is not None:
            kubelet.stop()
        containerd = self.processes.get("containerd")
        if containerd is not None:
            containerd.stop(timeout=20)
        self._kill_shims()
        self._unmount()
        self._clean_network()
        self._clean_cgroups()
        self._clean_host_dirs()
        for name, value in self.saved_sysctls.items():
            with contextlib.suppress(OSError):
                sysctl_path(name).write_text(value)
        (self.workdir / "host-state.json").unlink(missing_ok=True)

    def _kill_pods(self) -> None:
        tasks = self.ctr("tasks", "ls", "-q", check=False).stdout.split()
        for task in tasks:
            self.ctr("tasks", "kill", "--signal", "SIGKILL", task, check=False)
        deadline = time.monotonic() + 15
        while tasks and time.monotonic() < deadline:
            time.sleep(0.5)
            listing = self.ctr("tasks", "ls", check=False).stdout
            tasks = [line for line in listing.splitlines()[1:] if "RUNNING" in line]
        for container in self.ctr("containers", "ls", "-q", check=False).stdout.split():
            self.ctr("tasks", "delete", "--force", container, check=False)
            self.ctr("containers", "delete", container, check=False)

    def _kill_shims(self) -> None:
        """containerd-shim processes of this containerd (their command line names its address)."""
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                cmdline = (proc / "cmdline").read_bytes().split(b"\0")
                if cmdline and cmdline[0].endswith(b"containerd-shim-runc-v2") and str(self.socket).encode() in cmdline:
                    os.kill(int(proc.name), 9)

    def _unmount(self) -> None:
        prefix = str(self.workdir)
        for _ in range(3):
            mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
            mine = sorted((m for m in mounts if m.startswith(prefix)), key=len, reverse=True)
            if not mine:
                break
            for target in mine:
                run("umount", "-l", target, check=False)
        for netns in Path("/run/netns").glob("cni-*") if Path("/run/netns").exists() else []:
            run("ip", "netns", "delete", netns.name, check=False)

    def _clean_network(self) -> None:
        if self.created_bridge:
            run("ip", "link", "delete", BRIDGE, check=False)
        for tool in ("iptables", "ip6tables"):
            for table, chains in HOST_CHAINS.items():
                listing = run(tool, "-t", table, "-S", check=False).stdout
                for line in listing.splitlines():  # rules that jump to our chains, then the chains
                    if line.startswith("-A ") and any(f"-j {c}" in line for c in chains):
                        run(tool, "-t", table, *shlex.split(line.replace("-A ", "-D ", 1)), check=False)
                for chain in chains:
                    run(tool, "-t", table, "-F", chain, check=False)
                    run(tool, "-t", table, "-X", chain, check=False)
            # CNI's portmap and bridge chains
            for table in ("nat", "filter"):
                listing = run(tool, "-t", table, "-S", check=False).stdout
                for line in listing.splitlines():
                    if line.startswith("-A ") and ("CNI-" in line):
                        run(tool, "-t", table, *shlex.split(line.replace("-A ", "-D ", 1)), check=False)
                for line in listing.splitlines():
                    if line.startswith("-N CNI-"):
                        run(tool, "-t", table, "-F", line.split()[1], check=False)
                        run(tool, "-t", table, "-X", line.split()[1], check=False)

    def _clean_host_dirs(self) -> None:
        """Directories it made are removed; in ones that existed, only links into the work directory go."""
        for directory in HOST_DIRS:
            if directory in self.created_dirs:
                shutil.rmtree(directory, ignore_errors=True)
                continue
            for link in Path(directory).glob("*") if Path(directory).is_dir() else []:
                with contextlib.suppress(OSError):
                    if link.is_symlink() and str(self.workdir) in os.readlink(link):
                        link.unlink()
        for path in (
            Path("/var/lib/cni/results").glob("modelguard-e2e-*") if Path("/var/lib/cni/results").is_dir() else []
        ):
            path.unlink(missing_ok=True)

    @staticmethod
    def _clean_kube_router() -> None:
        """kube-router's iptables chains (KUBE-ROUTER-*, KUBE-NWPLCY-*, KUBE-POD-FW-*, KUBE-SRC-*) and ipsets."""
        prefixes = ("KUBE-ROUTER-", "KUBE-NWPLCY-", "KUBE-POD-FW-", "KUBE-SRC-")
        for tool in ("iptables", "ip6tables"):
            for table in ("filter", "nat", "mangle"):
                listing = run(tool, "-t", table, "-S", check=False).stdout.splitlines()
                for line in listing:
                    if line.startswith("-A ") and any(f"-j {p}" in line or f"-A {p}" in line for p in prefixes):
                        run(tool, "-t", table, *shlex.split(line.replace("-A ", "-D ", 1)), check=False)
                for line in listing:
                    if line.startswith("-N ") and line.split()[1].startswith(prefixes):
                        run(tool, "-t", table, "-F", line.split()[1], check=False)
                for line in listing:
                    if line.startswith("-N ") and line.split()[1].startswith(prefixes):
                        run(tool, "-t", table, "-X", line.split()[1], check=False)
        for name in run("ipset", "list", "-n", check=False).stdout.split():
            if name.startswith(("KUBE-SRC-", "KUBE-DST-", "kube-router-", "inet6:KUBE-", "KUBE-ROUTER-")):
                run("ipset", "destroy", name, check=False)

    @staticmethod
    def _clean_cgroups() -> None:
        """Kill what still runs in the pods' cgroups (a killed containerd leaves containers behind), then
        remove the cgroups the kubelet made."""
        pids = Path("/sys/fs/cgroup/pids/kubepods")
        for _ in range(10):
            procs = [int(p) for f in pids.rglob("cgroup.procs") for p in f.read_text().split()] if pids.is_dir() else []
            if not procs:
                break
            for pid in procs:
                with contextlib.suppress(OSError):
                    os.kill(pid, 9)
            time.sleep(0.5)
        for controller in Path("/sys/fs/cgroup").iterdir():
            kubepods = controller / "kubepods"
            if kubepods.is_dir():
                for directory in sorted(kubepods.rglob("*"), key=lambda p: len(p.parts), reverse=True):
                    if directory.is_dir():
                        with contextlib.suppress(OSError):
                            directory.rmdir()
                with contextlib.suppress(OSError):
                    kubepods.rmdir()

    def logs(self, lines: int = 40) -> str:
        return "\n\n".join(f"--- {name} ({proc.log}) ---\n{proc.tail(lines)}" for name, proc in self.processes.items())

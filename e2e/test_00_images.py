"""The images the cluster runs are the images the Dockerfiles describe: same user, entrypoint, command and
environment; the operator's venv holds exactly the pinned distributions and this checkout, and no image
carries pip or a compiler. Reads the images with skopeo (the transport references come from the runner:
`docker://` from the registry the node pulls from, or `docker-daemon:` for kind)."""

from __future__ import annotations

import json
import re
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from e2e.conftest import env

REPO = Path(__file__).resolve().parents[1]
IMAGES = {  # image -> (Dockerfile, environment variable with its skopeo reference)
    "operator": (REPO / "Dockerfile", "MODELGUARD_E2E_OPERATOR_IMAGE_REF"),
    "gateway": (REPO / "hack/images/gateway.Dockerfile", "MODELGUARD_E2E_GATEWAY_IMAGE_REF"),
    "model-server": (REPO / "hack/images/model-server.Dockerfile", "MODELGUARD_E2E_MODEL_SERVER_IMAGE_REF"),
}
SITE = "opt/modelguard/lib/python3.11/site-packages/"
FORBIDDEN = re.compile(r"^(usr/bin/(gcc|cc|g\+\+|c\+\+|make|pip3?)(-[\d.]+)?$|.*/site-packages/pip/__init__\.py$)")


def skopeo(*args: str) -> str:
    """skopeo ARGS... REF [DEST]: a plain-http loopback registry is read without TLS."""
    ref = args[-1] if args[0] != "copy" else args[-2]
    flag = "--src-tls-verify=false" if args[0] == "copy" else "--tls-verify=false"
    tls = [flag] if ref.startswith("docker://127.0.0.1:") else []
    out = subprocess.run(["skopeo", args[0], *tls, *args[1:]], capture_output=True, text=True, check=False, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout


def dockerfile_config(path: Path) -> dict[str, Any]:
    """USER, ENTRYPOINT, CMD and ENV of the final stage of a Dockerfile."""
    text = re.sub(r"\\\n", " ", path.read_text())
    final = text.split("\nFROM ")[-1]
    config: dict[str, Any] = {"Env": {}}
    for line in final.splitlines():
        word, _, rest = line.strip().partition(" ")
        if word == "USER":
            config["User"] = rest.strip()
        elif word in ("ENTRYPOINT", "CMD"):
            config["Entrypoint" if word == "ENTRYPOINT" else "Cmd"] = json.loads(rest)
        elif word == "ENV":
            for pair in re.findall(r"(\w+)=(\S+)", rest):
                config["Env"][pair[0]] = pair[1]
    return config


def image_config(ref: str) -> dict[str, Any]:
    config = json.loads(skopeo("inspect", "--config", ref))["config"]
    envs = dict(e.split("=", 1) for e in config.get("Env") or [])
    return {"User": config.get("User"), "Entrypoint": config.get("Entrypoint"), "Cmd": config.get("Cmd"), "Env": envs}


@pytest.fixture(scope="module")
def layers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    for name, (_, var) in IMAGES.items():
        target = tmp_path_factory.mktemp(name)
        skopeo("copy", "--quiet", env(var), f"dir:{target}")
        manifest = json.loads((target / "manifest.json").read_text())
        out[name] = [target / layer["digest"].split(":")[1] for layer in manifest["layers"]]
    return out


@pytest.mark.parametrize("name", list(IMAGES))
def test_the_built_image_has_the_dockerfiles_user_entrypoint_and_environment(name: str) -> None:
    dockerfile, var = IMAGES[name]
    want, got = dockerfile_config(dockerfile), image_config(env(var))
    assert got["User"] == want["User"] and "65532" in got["User"]
    assert got["Entrypoint"] == want.get("Entrypoint")
    assert got["Cmd"] == want.get("Cmd")
    for key, value in want["Env"].items():
        assert got["Env"].get(key) == value, key


def test_operator_venv_holds_exactly_the_pinned_distributions(layers: dict[str, list[Path]]) -> None:
    installed: dict[str, str] = {}
    for layer in layers["operator"]:
        with tarfile.open(layer) as tar:
            for member in tar.getnames():
                match = re.match(re.escape(SITE) + r"([^/]+)-([^-/]+)\.dist-info/METADATA$", member)
                if match:
                    installed[match[1].lower().replace("_", "-")] = match[2]
    pinned = {}
    for line in (REPO / "hack/images/operator-requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            dist, version = line.split("==")
            pinned[dist.lower().replace("_", "-")] = version
    version = re.search(r'^version = "([^"]+)"', (REPO / "pyproject.toml").read_text(), re.M)
    assert version is not None
    assert installed == {**pinned, "modelguard": version[1]}
    # the Dockerfile installs the same file, without resolving anything else
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "COPY hack/images/operator-requirements.txt ./requirements.txt" in dockerfile
    assert "--no-deps -r requirements.txt" in dockerfile and "--no-deps ." in dockerfile


@pytest.mark.parametrize("name", list(IMAGES))
def test_no_image_carries_pip_or_a_compiler(name: str, layers: dict[str, list[Path]]) -> None:
    found = []
    for layer in layers[name]:
        with tarfile.open(layer) as tar:
            found += [m for m in tar.getnames() if FORBIDDEN.match(m.lstrip("./"))]
    assert not found


def test_the_cluster_runs_these_images_pinned_by_digest() -> None:
    """The chart runs exactly the images checked above; from a registry, pinned by digest."""
    from e2e.conftest import kubectl

    out = kubectl("get", "deployment", "-A", "-l", "app.kubernetes.io/name=modelguard", "-o", "json").stdout
    (deployment,) = json.loads(out)["items"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    args = dict(a.split("=", 1) for a in container["args"] if a.startswith("--") and "=" in a)
    assert args["--image"] == container["image"]  # the verify init containers run the operator's image
    for image, var in (
        (container["image"], "MODELGUARD_E2E_OPERATOR_IMAGE_REF"),
        (args["--gateway-image"], "MODELGUARD_E2E_GATEWAY_IMAGE_REF"),
    ):
        transport, _, ref = env(var).partition(":")
        ref = ref.removeprefix("//")
        assert image == ref, (image, ref)
        if transport == "docker":  # a registry (make e2e-local); kind loads images by tag instead
            assert "@sha256:" in image

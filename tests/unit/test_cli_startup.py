"""`modelguard verify` runs in every model server pod's init container and in each model cache: it loads only
what verification needs (issue 16 item 5). Before, it loaded the Kubernetes client, Kopf and every API model
(about half a second) before hashing a byte."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.harness.models import KeyPair, sign, write_model

NOT_FOR_VERIFY = ("kubernetes", "kopf", "aiohttp", "prometheus_client", "pydantic", "yaml", "urllib3")
PROBE = """
import json, sys
from modelguard.cli.main import main
code = main(sys.argv[1:])
heavy = sorted(m for m in {names} if m in sys.modules or any(k.startswith(m + ".") for k in sys.modules))
api = sorted(k for k in sys.modules if k.startswith("modelguard.api."))
print(json.dumps({{"code": code, "heavy": heavy, "api": api}}))
"""


def test_verify_loads_nothing_it_does_not_use(tmp_path: Path) -> None:
    key = KeyPair.generate()
    model = write_model(tmp_path / "model")
    (tmp_path / "model.sig").write_bytes(sign(model, key))
    (tmp_path / "publisher.pem").write_bytes(key.public_pem)
    args = ["verify", "--key", str(tmp_path / "publisher.pem"), "--signature", str(tmp_path / "model.sig"), str(model)]
    probe = PROBE.format(names=repr(NOT_FOR_VERIFY))
    out = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, check=False, timeout=60)
    facts = json.loads(out.stdout.strip().splitlines()[-1])
    assert facts["code"] == 0, out.stdout + out.stderr  # it verified
    # the API models need pydantic; the reason and format names are plain modules every layer shares
    plain = {"modelguard.api.condition_reasons", "modelguard.api.model_formats"}
    assert facts["heavy"] == [] and set(facts["api"]) <= plain, facts


def test_version_and_help_still_list_every_command() -> None:
    from modelguard import __version__

    version = subprocess.run(
        [sys.executable, "-m", "modelguard.cli.main", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert version.returncode == 0 and version.stdout.strip() == f"modelguard {__version__}"
    helped = subprocess.run(
        [sys.executable, "-m", "modelguard.cli.main", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    for command in ("run", "verify", "sign", "keygen", "serve-model", "audit", "report", "register", "certificate"):
        assert command in helped.stdout

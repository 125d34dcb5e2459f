#!/usr/bin/env bash
# Debian packages the tests and the demo use: an OCI registry (distribution) and nginx (the gateway);
# for `make e2e-local` the real node (containerd, runc, CNI plugins,
# iptables, nftables, conntrack) and the image tools (mmdebstrap, umoci, skopeo, busybox-static);
# Chromium (headless) renders the compliance report in the tests.
# Go (>= 1.24) must already be installed for the control plane.
set -euo pipefail
need=()
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || need+=(nginx-light)
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
for pkg in containerd runc containernetworking-plugins iptables ipset nftables conntrack mmdebstrap umoci skopeo busybox-static chromium fonts-dejavu-core; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if ((${#need[@]})); then
  echo "[system-deps] installing ${need[*]}" >&2
  sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
command -v go >/dev/null || { echo "[system-deps] Go >= 1.24 is required to build the local control plane" >&2; exit 1; }
echo "[system-deps] ok: $(go version | cut -d' ' -f3), $(/usr/sbin/nginx -v 2>&1 | cut -d/ -f2), registry $(docker-registry --version 2>/dev/null | awk '{print $3}'), containerd $(containerd --version | awk '{print $3}')" >&2

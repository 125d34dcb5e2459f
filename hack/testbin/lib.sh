# Shared by build.sh (control plane) and build-node.sh (the real node of `make e2e-local`):
# progress logging, version ldflags and one `go build` with a progress line every 100 packages.
KUBE_VERSION=v1.34.4

log() { printf '[%s] %s\n' "${LOG_TAG:-testbin}" "$*" >&2; }

# -X flags that make the binaries report KUBE_VERSION (Helm and kubectl check it)
kube_version_ldflags() {
  local minor=${KUBE_VERSION#v1.} bdate p out=""
  minor=${minor%%.*}
  bdate=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    out+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=$bdate"
  done
  echo "$out"
}

# cache_key FILES...: a short hash of the Go version, the given files and this library
cache_key() {
  { go env GOVERSION GOARCH; cat "${BASH_SOURCE[0]}" "$@"; } | sha256sum | cut -c1-16
}

# go build -v prints each package as it is compiled: turn that into a progress line every 100.
build() { # name module-dir ldflags output packages...
  local name=$1 dir=$2 ldflags=$3 output=$4; shift 4
  log "building $name ..."
  local logfile n=0
  logfile=$(mktemp)
  if ! ( cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -v -trimpath -ldflags "$ldflags" -o "$output" "$@" ) 2> >(tee "$logfile" | while read -r _; do
        n=$((n + 1)); if (( n % 100 == 0 )); then log "  $name: $n packages compiled ($(( $(date +%s) - start ))s elapsed)"; fi
      done); then
    log "building $name FAILED; last lines of its log:"; tail -n 40 "$logfile" >&2; exit 1
  fi
  rm -f "$logfile"
  log "built $name ($(( $(date +%s) - start ))s elapsed)"
}

#!/usr/bin/env bash
# Builds the Dockerfile's image with podman, prints its size and fails above the limit
# (SIGNALROOM_IMAGE_LIMIT_MB, 40), and checks that, running as a non-root user, it serves the
# page, answers a Socket.IO handshake and reports healthy through `signalroom healthcheck`.
# Skips (exit 0) when podman is not installed: `apt-get install podman runc` brings it.
#
# Where no image registry is reachable (as on the CI machines), the build stage's image is made
# here instead: a Debian rootfs by debootstrap from this machine's own apt mirror, plus this
# machine's Rust toolchain (with the musl target) and the pinned tools already installed by
# scripts/setup.sh, which the Dockerfile's setup step then finds and skips. The runtime stage is
# `scratch`: nothing to fetch.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v podman >/dev/null; then
  echo "container: podman is not installed; skipping (apt-get install podman runc)"
  exit 0
fi

image=${SIGNALROOM_IMAGE:-localhost/signalroom:check}
port=${SIGNALROOM_CONTAINER_PORT:-9988}
build_image=rust:1.95-bookworm
limit_mb=${SIGNALROOM_IMAGE_LIMIT_MB:-40}
work=$(mktemp -d)
cleanup() {
  podman --runtime runc rm -f signalroom-check >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
note() { echo "container: $*"; }

# apt_mirror: the first Debian mirror this machine's apt uses.
apt_mirror() {
  { sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null
    sed -n 's/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\) .*/\2/p' /etc/apt/sources.list 2>/dev/null
  } | grep -v -- '-security' | head -n1
}

local_bases() {
  local base=localhost/signalroom-base:bookworm builder=localhost/signalroom-builder:1.95-musl
  if ! podman image exists "$base"; then
    command -v debootstrap >/dev/null || { sudo_=""; [ "$(id -u)" = 0 ] || sudo_=sudo;
      DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq debootstrap >/dev/null; }
    note "making $base with debootstrap (a few minutes, once)"
    debootstrap --variant=minbase bookworm "$work/rootfs" "$(apt_mirror)" >"$work/debootstrap.log" 2>&1 \
      || { tail -20 "$work/debootstrap.log"; exit 1; }
    tar -C "$work/rootfs" -c . | podman import - "$base" >/dev/null
    rm -rf "$work/rootfs"
  fi
  if ! podman image exists "$builder"; then
    . scripts/setup.sh # the pinned tools, to copy in
    note "making $builder from $base and this machine's Rust toolchain"
    rustup target add x86_64-unknown-linux-musl >/dev/null
    local ctx="$work/builder" toolchain
    toolchain=$(rustc --print sysroot)
    mkdir -p "$ctx/cargo/bin" "$ctx/rustup/toolchains"
    mkdir -p "$ctx/rustup/toolchains/stable-x86_64-unknown-linux-gnu"
    cp -a "$toolchain/." "$ctx/rustup/toolchains/stable-x86_64-unknown-linux-gnu/"
    for tool in rustup cargo-leptos wasm-bindgen; do cp -a "$(command -v $tool)" "$ctx/cargo/bin/"; done
    for proxy in cargo rustc rustdoc cargo-fmt rustfmt cargo-clippy clippy-driver; do ln -s rustup "$ctx/cargo/bin/$proxy"; done
    # Trust what this machine trusts: package registries may be reached through a TLS proxy.
    mkdir -p "$ctx/extra-ca"
    cp /usr/local/share/ca-certificates/*.crt "$ctx/extra-ca/" 2>/dev/null || true
    cat >"$ctx/Containerfile" <<'CONTAINERFILE'
FROM localhost/signalroom-base:bookworm
COPY extra-ca/ /usr/local/share/ca-certificates/
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates gcc libc6-dev pkg-config libssl-dev musl-tools \
 && update-ca-certificates \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
COPY rustup /usr/local/rustup
COPY cargo /usr/local/cargo
ENV RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo PATH=/usr/local/cargo/bin:$PATH
RUN rustup default stable && cargo --version
CONTAINERFILE
    podman build -q -t "$builder" "$ctx" >/dev/null
  fi
  build_image=$builder
}

if ! timeout 60 podman pull -q "$build_image" >/dev/null 2>&1; then
  note "no image registry reachable: building the base images locally"
  local_bases
fi

note "building $image"
# Docker's image format: OCI images drop HEALTHCHECK.
podman build --format docker -t "$image" --build-arg "BUILD_IMAGE=$build_image" .

size=$(podman image inspect --format '{{.Size}}' "$image")
note "image size: $size bytes ($(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1e6 }') MB; limit $limit_mb MB)"
[ "$size" -le $((limit_mb * 1000 * 1000)) ] || { note "FAILED: the image is larger than $limit_mb MB"; exit 1; }

note "running it on 127.0.0.1:$port"
# No systemd here to schedule the periodic checks: run the HEALTHCHECK once, by hand, below.
podman --runtime runc run -d --name signalroom-check -p "127.0.0.1:$port:9980" --health-interval disable \
  --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 "$image" >/dev/null
for _ in $(seq 50); do
  curl -sf "http://127.0.0.1:$port/" >/dev/null && break
  sleep 0.2
done

fail() { note "FAILED: $*"; podman logs signalroom-check | tail -20; exit 1; }
curl -sf "http://127.0.0.1:$port/" | grep -q 'id="connect"' || fail "the page did not answer"
curl -sf "http://127.0.0.1:$port/pkg/signalroom.wasm" -o /dev/null || fail "the WASM bundle is not served"
curl -sf "http://127.0.0.1:$port/socket.io/?EIO=4&transport=polling" | grep -q '^0{"sid"' \
  || fail "no Socket.IO handshake"
# No `id` in the image: the user the process runs as, seen from the host.
user=$(podman top signalroom-check user | tail -n1 | tr -d ' ')
[ -n "$user" ] && [ "$user" != root ] && [ "$user" != 0 ] || fail "the server runs as root ($user)"
podman healthcheck run signalroom-check || fail "the HEALTHCHECK reports unhealthy"
note "ok: page, bundle, Socket.IO handshake, non-root user and healthcheck"

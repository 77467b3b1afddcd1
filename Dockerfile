# signalroom: build with the pinned tools (Leptos.toml) into a static binary (musl), and run it
# as a non-root user from an image with nothing else in it: the binary, the site and the CA
# roots (for rediss:// and https webhooks). No shell: `signalroom healthcheck` is the check.
#
#   docker build -t signalroom .
#   docker run -p 9980:9980 signalroom
#
# The build image can be swapped (scripts/container.sh does, where no image registry is reachable).
ARG BUILD_IMAGE=rust:1.95-bookworm

FROM ${BUILD_IMAGE} AS build
# Node runs sass and binaryen's wasm-opt for cargo-leptos.
# musl-tools: musl-gcc, for the C in ring and mimalloc.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm musl-tools \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
# The tools first, so this slow layer is rebuilt only when a pin changes.
COPY Leptos.toml Cargo.toml Cargo.lock ./
COPY scripts/setup.sh scripts/
RUN scripts/setup.sh
COPY . .
# The same build as everywhere (scripts/build.sh), for musl. Only the binary and the site are
# kept: the rest of target/ (gigabytes) would stay in the build cache of every image built.
RUN ["bash", "-c", "LEPTOS_BIN_TARGET_TRIPLE=x86_64-unknown-linux-musl scripts/build.sh \
     && mkdir -p /out/etc/ssl/certs && cp /etc/ssl/certs/ca-certificates.crt /out/etc/ssl/certs/ \
     && mv target/x86_64-unknown-linux-musl/release/signalroom target/site /out/ && rm -rf target"]

FROM scratch
COPY --from=build /out/signalroom /app/signalroom
COPY --from=build /out/site /app/site
COPY --from=build /out/etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
# Every setting has a SIGNALROOM_* twin (see README). In a container: listen on all interfaces,
# log to stdout only (the image's files are read-only for the service user).
ENV SIGNALROOM_ADDR=0.0.0.0:9980 \
    SIGNALROOM_SITE_ROOT=/app/site \
    SIGNALROOM_LOG_FILE= \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
# No /etc/passwd in the image: a numeric, unprivileged user.
USER 10001:10001
EXPOSE 9980
# Asks /healthz on the configured port; exits 1 on anything but a 200.
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 \
  CMD ["/app/signalroom", "healthcheck"]
ENTRYPOINT ["/app/signalroom"]

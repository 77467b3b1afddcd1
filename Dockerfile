# signalroom: build with the pinned tools (Leptos.toml), run as a non-root user from a small image.
#
#   docker build -t signalroom .
#   docker run -p 9980:9980 signalroom
#
# Both base images can be swapped (scripts/container.sh does, where no image registry is reachable).
ARG BUILD_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${BUILD_IMAGE} AS build
# Node runs sass and binaryen's wasm-opt for cargo-leptos.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The tools first, so this slow layer is rebuilt only when a pin changes.
COPY Leptos.toml Cargo.toml Cargo.lock ./
COPY scripts/setup.sh scripts/
RUN scripts/setup.sh
COPY . .
# bash, not sh: setup.sh is sourced for its PATH (exec form: some builders ignore SHELL). Only
# the binary and the site are kept: the rest of target/ (gigabytes) would stay in the build
# cache of every image built.
RUN ["bash", "-c", ". scripts/setup.sh && cargo leptos build --release --precompress \
     && mkdir /out && mv target/release/signalroom target/site /out/ && rm -rf target"]

FROM ${RUNTIME_IMAGE}
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin signalroom
COPY --from=build /out/signalroom /app/signalroom
COPY --from=build /out/site /app/site
# Every setting has a SIGNALROOM_* twin (see README). In a container: listen on all interfaces,
# log to stdout only (the image's files are read-only for the service user).
ENV SIGNALROOM_ADDR=0.0.0.0:9980 \
    SIGNALROOM_SITE_ROOT=/app/site \
    SIGNALROOM_LOG_FILE=
USER signalroom
EXPOSE 9980
# No curl in the slim image: bash's /dev/tcp asks for the page on the configured port.
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${SIGNALROOM_ADDR##*:} && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/app/signalroom"]

# syntax=docker/dockerfile:1
# callerid-emulator: build with the Rust toolchain, run on a slim Debian with no extra packages.
#
#   docker build -t callerid-emulator .
#   docker run -p 4015:4015 -v callerid-data:/data callerid-emulator
#
# Every setting is an environment variable (see README.md); the state lives in /data.

FROM rust:1-slim-bookworm AS builder
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY migrations ./migrations
COPY src ./src
# The cache mounts keep the crate registry and compiled dependencies between builds.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin callerid-emulator \
    && cp target/release/callerid-emulator /usr/local/bin/callerid-emulator \
    && strip /usr/local/bin/callerid-emulator

FROM debian:bookworm-slim
# StatusCallbacks to https URLs use the TLS roots compiled into the binary: no packages needed.
RUN groupadd --system --gid 10001 emulator \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --shell /usr/sbin/nologin emulator \
    && mkdir /data \
    && chown emulator:emulator /data
COPY --from=builder /usr/local/bin/callerid-emulator /usr/local/bin/callerid-emulator
ENV CALLERID_DATABASE_URL=sqlite:///data/callerid-emulator.db \
    CALLERID_LISTEN=0.0.0.0:4015
VOLUME ["/data"]
WORKDIR /data
USER 10001:10001
EXPOSE 4015
# The runtime image has no curl: bash's /dev/tcp asks /_emulator/health (which also queries
# the database) on the port CALLERID_LISTEN names and passes on a 200 only.
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 \
    CMD ["bash", "-c", "exec 3<>\"/dev/tcp/127.0.0.1/${CALLERID_LISTEN##*:}\" && printf 'GET /_emulator/health HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3 && read -r -t 3 _ status _ <&3 && [ \"$status\" = 200 ]"]
ENTRYPOINT ["/usr/local/bin/callerid-emulator"]

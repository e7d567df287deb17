# Stock Tracker: one image with stock-tracker-api, stock-tracker-worker,
# stock-tracker-scheduler and wb-sandbox. The command picks the binary (docker-compose.yml);
# the default is the api.
#
#   docker build -t stock-tracker .
#   docker run --env-file .env stock-tracker                          # the api
#   docker run --env-file .env stock-tracker stock-tracker-api migrate
#
# Dependencies are compiled in their own layer (cargo-chef), so a change to our code rebuilds
# only our crates. Nothing connects to a database while building: sqlx's query macros read
# offline query data (SQLX_OFFLINE=true, also set in .cargo/config.toml): ours from the
# committed .sqlx/ (scripts/sqlx-prepare.sh writes it), apalis-postgres's from its crate.

#
# Base images are pinned by digest, with the tag beside it for the reader: a tag is moved to a
# new build whenever its publisher likes, a digest always names the same bytes, so a build
# next month compiles with the toolchain and ships the libraries of this one. They are
# written out, not built from ARGs, so that the tag cannot be changed without the digest.
# The toolchain's Debian release is the runtime's (glibc). To update: pick the tag, read its
# digest (`docker buildx imagetools inspect rust:1.95-slim-bookworm`, or the official images'
# repo-info, repos/<image>/remote/<tag>.md), change both together, and keep
# RUST_TOOLCHAIN in .github/workflows/ci.yml on the same Rust release.
# scripts/check-ops.sh (dockerfile) refuses a FROM without a digest.

# ---------------------------------------------------------------- toolchain + cargo-chef
# rust:1.95-slim-bookworm (Rust 1.95.0 on Debian 12, glibc 2.36)
FROM rust:1.95-slim-bookworm@sha256:d7482085ff5b415f84dba5647ae71606650bdef00db7aeb69f4b3d170c3e4082 AS chef
ARG CARGO_CHEF_VERSION=0.1.78
RUN cargo install cargo-chef --locked --version "${CARGO_CHEF_VERSION}" \
    && rm -rf "${CARGO_HOME}/registry"
WORKDIR /src

# ---------------------------------------------------------------- the dependency recipe
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

# ---------------------------------------------------------------- build
FROM chef AS builder
ENV SQLX_OFFLINE=true \
    CARGO_TERM_COLOR=never \
    CARGO_INCREMENTAL=0
ARG PACKAGES="-p stock-tracker-api -p stock-tracker-worker -p stock-tracker-scheduler -p wb-sandbox"
COPY --from=planner /src/recipe.json recipe.json
# Dependencies only: this layer is reused until a manifest or Cargo.lock changes.
RUN cargo chef cook --release --locked --recipe-path recipe.json ${PACKAGES}
COPY . .
RUN cargo build --release --locked --bins ${PACKAGES} \
    && mkdir -p /out \
    && cp target/release/stock-tracker-api target/release/stock-tracker-worker \
          target/release/stock-tracker-scheduler target/release/wb-sandbox /out/

# ---------------------------------------------------------------- runtime
# debian:bookworm-slim, the build of 2026-08-03
FROM debian:bookworm-slim@sha256:abd67ffcfa541b485a3dff59865ab629aa048a6c613e639d36e7456b0b229241 AS runtime
# ca-certificates: TLS to Wildberries, Stripe and Sentry. curl: the health checks.
# tini: PID 1 that forwards SIGTERM, so the binaries drain and exit 0.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl tini \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 stock-tracker \
    && useradd --system --uid 10001 --gid stock-tracker --no-create-home \
         --home-dir /nonexistent --shell /usr/sbin/nologin stock-tracker
COPY --from=builder /out/ /usr/local/bin/

ARG VERSION=dev
LABEL org.opencontainers.image.title="stock-tracker" \
      org.opencontainers.image.description="Stock Tracker: api, worker, scheduler and wb-sandbox" \
      org.opencontainers.image.version="${VERSION}"
# Containers listen on every interface; the compose network keeps them private.
ENV API_BIND=0.0.0.0:8000 \
    WORKER_METRICS_BIND=0.0.0.0:9101 \
    SCHEDULER_METRICS_BIND=0.0.0.0:9102 \
    WB_SANDBOX_BIND=0.0.0.0:8081 \
    LOG_FORMAT=json \
    SENTRY_RELEASE=${VERSION}

USER 10001:10001
EXPOSE 8000 9101 9102
# For the default command, the api. docker-compose.yml gives the worker, the scheduler and the
# sandbox checks of their own.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD curl -fsS -o /dev/null http://127.0.0.1:8000/health/live || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["stock-tracker-api"]

# authd container image: a release build on Debian 12 (bookworm), run on
# distroless as the unprivileged `nonroot` user (uid/gid 65532).
#
#   docker build -t authd .
#   docker run -p 8080:8080 -v authd-data:/var/lib/authd authd
#
# Base images are pinned by tag only. For production builds pin them by digest
# as well (FROM image:tag@sha256:...) so a rebuild cannot pick up a different
# image, and refresh the digests deliberately.

########################################################################
# Build stage
########################################################################
FROM rust:1.95.0-slim-bookworm AS builder

# Native build requirements: aws-lc-sys, ring and libsqlite3-sys compile C with
# the `cc` crate (a C compiler and make; pkg-config for crates that probe for
# system libraries). On x86_64 and aarch64 Linux aws-lc-sys ships pregenerated
# bindings and builds with its `cc` builder, so neither cmake nor clang is
# needed; other targets would also need `cmake` and `clang` (bindgen).
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential pkg-config \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src

# 1. Dependencies only: with the manifests and placeholder sources, this layer
#    is rebuilt only when Cargo.toml or Cargo.lock change.
#    authd-bench, the load generator, is not part of the image: its manifest
#    must be present for the workspace to load, its code is not built.
COPY Cargo.toml Cargo.lock ./
COPY authd-verify/Cargo.toml ./authd-verify/
COPY authd-bench/Cargo.toml ./authd-bench/
RUN mkdir -p src authd-verify/src authd-bench/src \
    && echo 'fn main() {}' > src/main.rs \
    && echo 'fn main() {}' > authd-bench/src/main.rs \
    && touch src/lib.rs authd-verify/src/lib.rs authd-bench/src/lib.rs \
    && cargo build --release --locked -p authd \
    && rm -rf src

# 2. The application. config/default.toml is embedded with include_str! and
#    migrations/ with sqlx::migrate!, so both must be present at build time.
#    The placeholders' build outputs may look newer than the copied sources,
#    so the crate roots are touched to force cargo to rebuild authd itself.
#    authd verifies access tokens with authd-verify's validation module, so
#    that crate's code is built too (its manifest came in step 1).
COPY src ./src
COPY authd-verify/src ./authd-verify/src
COPY migrations ./migrations
COPY config ./config
RUN touch src/main.rs src/lib.rs authd-verify/src/lib.rs \
    && cargo build --release --locked -p authd \
    && cp target/release/authd /usr/local/bin/authd

# The data directory (SQLite database, generated development keys): distroless
# has no shell or mkdir, so it is created here and copied with its owner.
RUN mkdir -p /out/var/lib/authd && chown 65532:65532 /out/var/lib/authd

########################################################################
# Runtime stage
########################################################################
# cc: glibc and libgcc_s, which the binary links; no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot

COPY --from=builder /usr/local/bin/authd /usr/local/bin/authd
# Copied before WORKDIR, which would otherwise create the directory as root.
COPY --from=builder --chown=65532:65532 /out/var/lib/authd /var/lib/authd
WORKDIR /var/lib/authd

# Listen on all interfaces inside the container and keep all state in the
# data directory (mount a volume there to keep it across containers).
ENV AUTHD__SERVER__HOST=0.0.0.0 \
    AUTHD__DATA_DIR=/var/lib/authd \
    AUTHD__DATABASE__URL=sqlite:///var/lib/authd/authd.db

EXPOSE 8080
# /metrics is not on the public port: with AUTHD__METRICS__LISTEN=0.0.0.0:9100
# it is served on that port only; publish it to the monitoring network.
USER nonroot

# No curl in distroless: `authd healthcheck` GETs http://127.0.0.1:<port>/healthz
# (port from the same settings as the server) and exits 0 or 1.
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
    CMD ["/usr/local/bin/authd", "healthcheck"]

ENTRYPOINT ["/usr/local/bin/authd"]
CMD ["serve"]

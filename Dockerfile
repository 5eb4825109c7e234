# syntax=docker/dockerfile:1
# Multi-stage build: compile in the Rust image, ship only the binary on a small runtime.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Dependencies first, so source edits do not rebuild them. Cargo reads every target the manifest
# declares (the binary, the library, the tests and the bench) and every [patch] path before it
# builds anything, so each gets a stub here; `tests/it/build_context.rs` replays these steps in a
# copy of the build context and fails when one is missing. (Every dependency comes from the
# registry, checked against Cargo.lock: the manifest has no [patch].)
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches tests/it \
    && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && for stub in benches/ingest.rs tests/crash.rs tests/it/main.rs; do echo 'fn main() {}' > "$stub"; done \
    && cargo build --release --locked --bin wolkvox-etl \
    && rm -rf src benches tests
COPY src src
COPY migrations migrations
COPY config config
RUN mkdir -p benches tests/it \
    && for stub in benches/ingest.rs tests/crash.rs tests/it/main.rs; do echo 'fn main() {}' > "$stub"; done \
    && touch src/main.rs src/lib.rs \
    && cargo build --release --locked --bin wolkvox-etl \
    && strip target/release/wolkvox-etl

# distroless/cc: glibc and CA roots only, no shell; runs as the non-root user 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/wolkvox-etl /usr/local/bin/wolkvox-etl
# 65532 is distroless's "nonroot" user; numeric so the host can resolve it.
USER 65532:65532
# JSON logs for docker logs / shippers; metrics and health reachable from other containers.
ENV WOLKVOX_ETL__LOG__FORMAT=json \
    WOLKVOX_ETL__HTTP__BIND=0.0.0.0:9187
EXPOSE 9187
# No curl in distroless: the binary asks its own /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["/usr/local/bin/wolkvox-etl", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/wolkvox-etl"]
CMD ["run"]

# syntax=docker/dockerfile:1
# Multi-stage build: compile in the Rust image, ship only the binary on a small runtime.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Dependencies first, so source edits do not rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src
COPY src src
COPY migrations migrations
COPY config config
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked \
    && strip target/release/wolkvox-etl

# distroless/cc: glibc and CA roots only, no shell; runs as the non-root user 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/wolkvox-etl /usr/local/bin/wolkvox-etl
USER nonroot
ENV WOLKVOX_ETL__LOG__FORMAT=json
ENTRYPOINT ["/usr/local/bin/wolkvox-etl"]
CMD ["run"]

# saml-broker images. Build from the repository root:
#
#   docker build -t saml-broker .                          # the server (last stage, the default)
#   docker build --target lambda -t saml-broker:lambda .   # the AWS Lambda image (what `sam build` does)
#
# Both images run the same binary, built once on Debian bookworm. The Lambda
# image is Debian too, not public.ecr.aws/lambda/provided:al2023: a binary built
# on bookworm (glibc 2.36) need not run on AL2023 (glibc 2.34), and the binary is
# its own Lambda runtime client (lambda_http), so no AWS base image is needed.
# docs/deploy-aws.md explains the choice.
#
# Only instructions the classic builder understands (no RUN --mount, no
# COPY --chmod/--link, no heredocs): `sam build` drives the Docker Engine API
# without BuildKit. The classic builder also builds every stage above its
# target, so the Lambda stage comes before the server stage.
#
# Two build arguments let scripts/container-test.sh build the same runtime
# stages (3-5) around a binary built on the host, on a Debian base it made
# itself, without pulling the node and rust images:
#   RUNTIME_BASE  the image the runtime stages start from (bookworm-slim);
#   BINARY_FROM   where /usr/local/bin/saml-broker comes from: the `build`
#                 stage below, or an image holding a prebuilt binary there.
ARG RUNTIME_BASE=debian:bookworm-slim
ARG BINARY_FROM=build

# ---------------------------------------------------------------------------
# 1. The browser app. backend/build.rs embeds frontend/dist into the binary.
#    node:22 rather than Debian's nodejs (18.x): frontend/package.json wants >= 20.
FROM node:22-bookworm-slim AS frontend
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

# ---------------------------------------------------------------------------
# 2. The binary. Pure Rust apart from ring's and SQLite's bundled C: no
#    system library headers are needed (no OpenSSL, libxml2 or libxmlsec1).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY backend/ backend/
# Not built here, but a workspace member: cargo must find its manifest.
COPY loadgen/ loadgen/
COPY --from=frontend /src/frontend/dist/ frontend/dist/
RUN cargo build --release --locked --bin saml-broker \
 && install -m 0755 target/release/saml-broker /usr/local/bin/saml-broker

# The binary the runtime stages copy: from `build` unless BINARY_FROM says otherwise.
# hadolint ignore=DL3006
FROM ${BINARY_FROM} AS binary

# ---------------------------------------------------------------------------
# 3. What both images share: CA certificates for the IdP metadata URL and
#    AWS, and the binary, which links only glibc. `--version` fails the build
#    here if it cannot run.
# hadolint ignore=DL3006
FROM ${RUNTIME_BASE} AS base
# Debian packages are not pinned to versions: bookworm only carries the
# current security release of each, so a pin would break the next build.
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=binary /usr/local/bin/saml-broker /usr/local/bin/saml-broker
RUN /usr/local/bin/saml-broker --version
LABEL org.opencontainers.image.title="saml-broker" \
      org.opencontainers.image.description="Turns a verified SAML login into short-lived, scoped AWS credentials" \
      org.opencontainers.image.licenses="Apache-2.0"

# ---------------------------------------------------------------------------
# 4. AWS Lambda (template.yaml). Lambda starts ENTRYPOINT + CMD with
#    AWS_LAMBDA_RUNTIME_API set; the binary then ignores its arguments and
#    answers API Gateway events through lambda_http instead of binding a port.
#    The configuration comes from the BROKER_ variables the template sets
#    (there is no broker.toml). Lambda runs the image as its own unprivileged
#    user on a read-only file system (only /tmp is writable); the broker writes
#    nothing to disk there.
FROM base AS lambda
ENTRYPOINT ["/usr/local/bin/saml-broker"]
CMD ["serve"]

# ---------------------------------------------------------------------------
# 5. The server (default target): docs/deploy-container.md.
FROM base AS server
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 saml-broker \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
      --home-dir /var/lib/saml-broker --shell /usr/sbin/nologin saml-broker \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/saml-broker \
 && install -d -m 0755 /etc/saml-broker
# The configuration is mounted read-only at /etc/saml-broker/broker.toml.
# State that must be written (a SQLite store, a generated key file, audit
# archives) belongs in /var/lib/saml-broker: give those keys absolute paths
# there, because relative ones resolve against /etc/saml-broker.
WORKDIR /var/lib/saml-broker
# A container must listen on all interfaces to be reachable. This variable
# overrides server.listen from the file; set it to move the port (and change
# the health check with it).
ENV BROKER_SERVER__LISTEN=0.0.0.0:8080
USER 10001:10001
EXPOSE 8080
# curl's own exit codes are mapped to 1, the one Docker reads as "unhealthy".
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \
  CMD ["/bin/sh", "-c", "curl -fsS -o /dev/null http://127.0.0.1:8080/healthz || exit 1"]
ENTRYPOINT ["/usr/local/bin/saml-broker"]
CMD ["serve", "--config", "/etc/saml-broker/broker.toml"]

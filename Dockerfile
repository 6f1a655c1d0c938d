# syntax=docker/dockerfile:1
#
# keygate's container image: Caddy with keygate's modules, as a static
# binary on Alpine, running as a non-root user with Caddy's conventional
# layout (/etc/caddy/Caddyfile, the /config and /data volumes, ports 80 and
# 443, the admin endpoint on 127.0.0.1:2019 inside the container).
#
#   docker build --build-arg VERSION=$(git describe --always --dirty) -t keygate .
#   (or: make docker)
#
# The default config is deploy/Caddyfile: plain HTTP on :80 in front of
# the integrations registered in the key store, which is
# KEYGATE_DATABASE_URL (postgres://...), or without it the SQLite file
# /data/caddy/keygate/keygate.db. compose.yaml runs two instances on one
# PostgreSQL database.

ARG GO_VERSION=1.26
ARG ALPINE_VERSION=3.22

FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# The version `keygate version` prints; .git is not in the build context.
ARG VERSION=dev
# The same flags as `make build`; build-static turns cgo off.
RUN --mount=type=cache,target=/go/pkg/mod \
	--mount=type=cache,target=/root/.cache/go-build \
	make build-static BIN=/out/keygate VERSION="${VERSION}" \
	&& /out/keygate version

FROM alpine:${ALPINE_VERSION}
ARG ALPINE_VERSION
ARG VERSION=dev
# ca-certificates: upstreams over HTTPS; mailcap: MIME types for Caddy's
# file_server; tzdata: log times in TZ if set.
RUN apk add --no-cache ca-certificates mailcap tzdata \
	&& addgroup -S -g 65532 keygate \
	&& adduser -S -D -H -u 65532 -G keygate -h /data -s /sbin/nologin keygate \
	&& mkdir -p /config/caddy /data/caddy /etc/caddy /srv \
	&& chown -R keygate:keygate /config /data

COPY --from=build /out/keygate /usr/bin/keygate
COPY deploy/Caddyfile /etc/caddy/Caddyfile

# Caddy's config directory is $XDG_CONFIG_HOME/caddy, its data directory
# (certificates, the SQLite key store) $XDG_DATA_HOME/caddy.
ENV XDG_CONFIG_HOME=/config XDG_DATA_HOME=/data
VOLUME /config /data

# HTTP, HTTPS and HTTP/3. Binding them as a non-root user relies on the
# container runtime allowing it (Docker sets
# net.ipv4.ip_unprivileged_port_start=0); elsewhere set KEYGATE_SITE to a
# port above 1023, such as http://:8080.
EXPOSE 80 443 443/udp

USER keygate:keygate
WORKDIR /srv

# The admin endpoint answers once the config is loaded; it is on loopback,
# so only this container reaches it. /metrics, because Caddy logs admin
# requests at info level but for that one.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
	CMD wget -q -O /dev/null "http://${KEYGATE_ADMIN:-127.0.0.1:2019}/metrics" || exit 1

LABEL org.opencontainers.image.title="keygate" \
	org.opencontainers.image.description="API-key gateway at the edge: Caddy with keygate's authentication modules" \
	org.opencontainers.image.version="${VERSION}" \
	org.opencontainers.image.source="https://github.com/keygate/keygate" \
	org.opencontainers.image.documentation="https://github.com/keygate/keygate#readme" \
	org.opencontainers.image.base.name="docker.io/library/alpine:${ALPINE_VERSION}"

CMD ["keygate", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]

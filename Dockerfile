# vcd container image: a static binary on a distroless base, running as a
# non-root user with its data in the /data volume.
#   docker build -t vcd .
#   docker run -p 8000:8000 -v vcd-data:/data vcd

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/virtual-company/vc/server.Version=${VERSION}" \
      -o /out/vcd ./cmd/vcd \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/vcd /usr/local/bin/vcd
# An empty /data owned by the nonroot user (65532), so a new volume is writable.
COPY --from=build --chown=65532:65532 /out/data /data
ENV VCD_LISTEN=0.0.0.0:8000 \
    VCD_DATA_DIR=/data \
    VCD_LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 8000
USER 65532:65532
# The image has no shell or curl: vcd asks its own /ready.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/vcd", "health"]
ENTRYPOINT ["/usr/local/bin/vcd"]

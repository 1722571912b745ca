# Production image of aibud: one static binary on a distroless, non-root base.
# The templ output (*_templ.go) is committed, so no code generation runs here.

FROM golang:1.26-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -trimpath -ldflags="-s -w" -o /out/aibud . && mkdir -p /out/data/media

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/aibud /usr/local/bin/aibud
# Where MEDIA_STORAGE=disk keeps files (MEDIA_DIR); a volume mounted here
# starts owned by the user below.
COPY --from=build --chown=nonroot:nonroot /out/data /data
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/aibud"]
# serve + worker in one process; run `serve` and `worker` separately to scale.
CMD ["all"]

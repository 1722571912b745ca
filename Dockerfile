# Production image of aibud: one static binary on a distroless, non-root base.
# The templ output (*_templ.go) is committed, so no code generation runs here.

FROM golang:1.26-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -trimpath -ldflags="-s -w" -o /out/aibud .

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/aibud /usr/local/bin/aibud
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/aibud"]
# serve + worker in one process; run `serve` and `worker` separately to scale.
CMD ["all"]

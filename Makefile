# My Aibud. `make dev` runs the product locally; `make test` runs every test.
# Both set up what they need on a fresh Debian machine (see .ci/services.sh).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
export GOPROXY ?= https://proxy.golang.org,direct
export GOFLAGS ?= -buildvcs=false

DEV := .dev
PORT ?= 8080
APP_BASE_URL ?= http://localhost:$(PORT)
PSQL = $$(ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n 1 || command -v psql)

.PHONY: all build dev test bench generate check-generated lint services stripe-mock clean

all: build

build: generate
	$(GO) build -o bin/aibud .

generate:
	$(GO) tool templ generate -log-level error

# Starts PostgreSQL and Redis if needed and records where they are.
services:
	@mkdir -p $(DEV)
	@.ci/services.sh > $(DEV)/services.env

# Runs the whole product locally: services, migrations, the app (web and
# workers in one process), the WAHA stand-in with its phone page (or, with
# WHATSAPP_PROVIDER=evolution, the Evolution API stand-in), the mailbox
# stand-in (password reset emails land there), and the Gemini stand-in unless
# GOOGLE_GENERATIVE_AI_API_KEY (or GEMINI_API_KEY) is set, in which case the
# real Gemini API answers. Ctrl-C stops everything.
WAHA_SIM_PORT ?= 3000
EVOLUTION_SIM_PORT ?= 8089
GEMINI_SIM_PORT ?= 8091
MAIL_SIM_SMTP_PORT ?= 1025
MAIL_SIM_HTTP_PORT ?= 8025
# WHATSAPP_PROVIDER=evolution runs the Evolution API stand-in instead of WAHA's.
WHATSAPP_PROVIDER ?= waha
dev: build services
	@set -a; . $(DEV)/services.env; set +a; \
	"$(PSQL)" "$$PG_URL/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname = 'aibud_dev'" | grep -q 1 || \
		"$(PSQL)" "$$PG_URL/postgres" -qc "CREATE DATABASE aibud_dev"; \
	[ -s $(DEV)/session_secret ] || head -c 32 /dev/urandom | base64 | tr -d '\n' > $(DEV)/session_secret; \
	export DATABASE_URL="$$PG_URL/aibud_dev?sslmode=disable" REDIS_URL="$$REDIS_URL_BASE/1" \
		SESSION_SECRET="$$(cat $(DEV)/session_secret)" APP_BASE_URL="$(APP_BASE_URL)" PORT="$(PORT)" \
		LOG_FORMAT="$${LOG_FORMAT:-text}" ADMIN_EMAILS="$${ADMIN_EMAILS:-admin@example.com}" \
		WHATSAPP_PROVIDER="$(WHATSAPP_PROVIDER)" \
		SMTP_URL="smtp://127.0.0.1:$(MAIL_SIM_SMTP_PORT)?starttls=off"; \
	pids=""; trap 'kill $$pids 2>/dev/null; wait' EXIT INT TERM; \
	case "$(WHATSAPP_PROVIDER)" in \
	evolution) \
		bin/aibud sim evolution -addr 127.0.0.1:$(EVOLUTION_SIM_PORT) -key dev-evolution-key & pids="$$pids $$!"; \
		export EVOLUTION_API_URL="http://127.0.0.1:$(EVOLUTION_SIM_PORT)" EVOLUTION_API_KEY="dev-evolution-key" \
			EVOLUTION_WEBHOOK_SECRET="dev-evolution-webhook-secret"; \
		phone="http://127.0.0.1:$(EVOLUTION_SIM_PORT)/phone   (Evolution API stand-in)";; \
	*) \
		bin/aibud sim waha -addr 127.0.0.1:$(WAHA_SIM_PORT) -key dev-waha-key & pids="$$pids $$!"; \
		export WAHA_API_URL="http://127.0.0.1:$(WAHA_SIM_PORT)" WAHA_API_KEY="dev-waha-key" WAHA_WEBHOOK_SECRET="dev-webhook-secret"; \
		phone="http://127.0.0.1:$(WAHA_SIM_PORT)/phone   (WAHA stand-in)";; \
	esac; \
	bin/aibud sim mail -smtp 127.0.0.1:$(MAIL_SIM_SMTP_PORT) -http 127.0.0.1:$(MAIL_SIM_HTTP_PORT) & pids="$$pids $$!"; \
	if [ -z "$${GOOGLE_GENERATIVE_AI_API_KEY:-}$${GEMINI_API_KEY:-}" ]; then \
		bin/aibud sim gemini -addr 127.0.0.1:$(GEMINI_SIM_PORT) -key dev-gemini-key & pids="$$pids $$!"; \
		export GEMINI_BASE_URL="http://127.0.0.1:$(GEMINI_SIM_PORT)" GOOGLE_GENERATIVE_AI_API_KEY="dev-gemini-key"; \
	fi; \
	bin/aibud migrate; \
	echo; \
	echo "  My Aibud:      $(APP_BASE_URL)   (sign up; admin@example.com is a platform owner)"; \
	echo "  Phone:         $$phone: scan QR codes, write as a customer"; \
	echo "  Mail:          http://127.0.0.1:$(MAIL_SIM_HTTP_PORT)   (password reset emails)"; \
	echo; \
	bin/aibud all

# Runs every test against real PostgreSQL, Redis and headless Chromium, and
# Stripe's API through stripe-mock (the tests start it on loopback ports).
test: stripe-mock
	@mkdir -p $(DEV)
	@.ci/services.sh --chromium > $(DEV)/services.env
	@$(MAKE) --no-print-directory check-generated lint
	@set -a; . $(DEV)/services.env; set +a; \
	export TEST_DATABASE_URL="$$PG_URL/postgres?sslmode=disable" TEST_REDIS_URL="$$REDIS_URL_BASE/0"; \
	$(GO) test -race -count=1 -timeout 30m ./...

# Installs stripe-mock, Stripe's API stand-in, unless it is installed.
stripe-mock:
	@command -v stripe-mock >/dev/null || [ -x "$$($(GO) env GOPATH)/bin/stripe-mock" ] || \
		$(GO) install github.com/stripe/stripe-mock@latest

# Fails when the committed templ output is not what the .templ files generate.
check-generated:
	@before=$$(find . -name '*_templ.go' -not -path './.dev/*' -exec sha256sum {} + | sort); \
	$(GO) tool templ generate -log-level error; \
	after=$$(find . -name '*_templ.go' -not -path './.dev/*' -exec sha256sum {} + | sort); \
	if [ "$$before" != "$$after" ]; then \
		echo "generated templ files were out of date; they are regenerated now: commit them"; exit 1; fi

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go') | grep -v '_templ.go$$' || true); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	@$(GO) tool templ fmt -fail -log-level error . || { echo "templ fmt needed: run go tool templ fmt ."; exit 1; }
	$(GO) vet ./...

# Benchmarks: Go benchmarks and loopback load generators (see README).
# AIBUD_BENCH_SECONDS (5) is each open-loop rate's window, AIBUD_BENCH_RATES
# (10,50,100,200) its rates.
bench: services
	@set -a; . $(DEV)/services.env; set +a; \
	export TEST_DATABASE_URL="$$PG_URL/postgres?sslmode=disable" TEST_REDIS_URL="$$REDIS_URL_BASE/0"; \
	$(GO) test -run '^$$' -bench . -benchtime 1x -count 1 ./...

clean:
	rm -rf bin

#!/usr/bin/env bash
# Makes sure PostgreSQL and Redis are running for `make dev` and `make test`,
# and prints where they are as shell assignments:
#
#   PG_URL=postgres://postgres@127.0.0.1:5432
#   REDIS_URL_BASE=redis://127.0.0.1:6379
#
# For each service, in order: reuse a server answering on the default port;
# else start the installed one (Debian's cluster, or a private server under
# .dev/); else install it from Debian's packages and start a private server.
# With --chromium it also installs Debian's chromium for the browser tests.
# Progress goes to stderr; only the assignments go to stdout.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
state="$root/.dev"
mkdir -p "$state"

log() { echo "services: $*" >&2; }

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"
	elif command -v sudo >/dev/null 2>&1; then sudo "$@"
	else log "need root to run: $*"; return 1
	fi
}

apt_updated=""
apt_install() {
	log "installing $* from Debian's packages"
	if [ -z "$apt_updated" ]; then
		as_root apt-get update -qq >&2
		apt_updated=1
	fi
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

# port_open HOST PORT: something accepts TCP connections there.
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_for() { # wait_for SECONDS COMMAND...
	local deadline=$((SECONDS + $1)); shift
	until "$@"; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.3
	done
}

# ---------------------------------------------------------------- PostgreSQL
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

pg_trusts() { # pg_trusts PORT: we can connect as postgres without a password
	local bin; bin=$(pg_bin)
	local psql=psql; [ -n "$bin" ] && [ -x "$bin/psql" ] && psql="$bin/psql"
	command -v "$psql" >/dev/null 2>&1 || return 0 # cannot tell; assume yes
	PGCONNECT_TIMEOUT=3 "$psql" -h 127.0.0.1 -p "$1" -U postgres -d postgres -w -tAc 'SELECT 1' >/dev/null 2>&1
}

start_private_pg() {
	local bin; bin=$(pg_bin)
	local dir="$state/pg" port=55432
	if port_open 127.0.0.1 $port; then echo $port; return; fi
	local run=()
	if [ "$(id -u)" = 0 ]; then
		# initdb and postgres refuse to run as root.
		id postgres >/dev/null 2>&1 || useradd --system --home "$dir" --shell /bin/false postgres
		chown postgres "$state"
		run=(runuser -u postgres --)
	fi
	if [ ! -f "$dir/PG_VERSION" ]; then
		log "creating a private PostgreSQL cluster in $dir"
		mkdir -p "$dir"; [ "$(id -u)" = 0 ] && chown postgres "$dir"
		"${run[@]}" "$bin/initdb" -D "$dir" -U postgres -A trust -E UTF8 >&2
	fi
	log "starting the private PostgreSQL on port $port"
	"${run[@]}" "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w \
		-o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=off -c max_connections=300" start >&2
	echo $port
}

ensure_postgres() {
	if port_open 127.0.0.1 5432 && pg_trusts 5432; then
		echo 5432; return
	fi
	if ! port_open 127.0.0.1 5432 && ls /etc/postgresql/*/main >/dev/null 2>&1 && command -v pg_ctlcluster >/dev/null 2>&1; then
		log "starting Debian's PostgreSQL cluster"
		as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start >&2 || true
		if wait_for 20 port_open 127.0.0.1 5432 && pg_trusts 5432; then
			echo 5432; return
		fi
		log "Debian's cluster needs a password here; using a private cluster instead"
	fi
	[ -n "$(pg_bin)" ] || apt_install postgresql
	start_private_pg
}

# --------------------------------------------------------------------- Redis
redis_pings() { # redis_pings PORT
	if command -v redis-cli >/dev/null 2>&1; then
		[ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ]
	else
		port_open 127.0.0.1 "$1"
	fi
}

ensure_redis() {
	if redis_pings 6379; then echo 6379; return; fi
	command -v redis-server >/dev/null 2>&1 || apt_install redis-server
	mkdir -p "$state/redis"
	log "starting a private Redis on port 6379"
	redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no \
		--dir "$state/redis" --logfile "$state/redis/redis.log" >&2
	wait_for 20 redis_pings 6379 || { log "Redis did not start; see $state/redis/redis.log"; exit 1; }
	echo 6379
}

# ------------------------------------------------------------------ Chromium
ensure_chromium() {
	command -v chromium >/dev/null 2>&1 || apt_install chromium
}

if [ -n "${PG_URL:-}" ]; then
	pg_url=$PG_URL
else
	pg_url="postgres://postgres@127.0.0.1:$(ensure_postgres)"
fi
if [ -n "${REDIS_URL_BASE:-}" ]; then
	redis_url=$REDIS_URL_BASE
else
	redis_url="redis://127.0.0.1:$(ensure_redis)"
fi
[ "${1:-}" = --chromium ] && ensure_chromium

echo "PG_URL=$pg_url"
echo "REDIS_URL_BASE=$redis_url"

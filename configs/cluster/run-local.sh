#!/usr/bin/env bash
# Runs a vcd cluster on this machine without containers: three nodes on
# 127.0.0.1:8001-8003 sharing one PostgreSQL database and one NATS, behind
# HAProxy on 127.0.0.1:8000 (README "Running a cluster").
#
#   configs/cluster/run-local.sh start     build vcd, start the nodes and HAProxy
#   configs/cluster/run-local.sh status    who runs, and each node's /ready
#   configs/cluster/run-local.sh kill N    kill -9 node N (N = 1, 2 or 3)
#   configs/cluster/run-local.sh restart N start node N again
#   configs/cluster/run-local.sh stop      stop everything it started
#
# Needs: Go (to build vcd), PostgreSQL reachable at VCD_DATABASE_URL
# (default postgres://postgres@127.0.0.1:5432/vccluster?sslmode=disable; the
# database is created with createdb when missing), NATS at VCD_CLUSTER_NATS_URL
# (default nats://127.0.0.1:4222; when nothing answers there and nats-server
# is installed, one is started), and HAProxy (apt install haproxy; without
# it the nodes run and clients pick one). State, logs and pids go to
# CLUSTER_DIR (default /tmp/vc-cluster).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIR="${CLUSTER_DIR:-/tmp/vc-cluster}"
DB_URL="${VCD_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/vccluster?sslmode=disable}"
NATS_URL="${VCD_CLUSTER_NATS_URL:-nats://127.0.0.1:4222}"
LB_ADDR="${LB_ADDR:-127.0.0.1:8000}"
NODES=3
BASE_PORT="${BASE_PORT:-8000}" # node N listens on BASE_PORT+N

mkdir -p "$DIR"

log() { printf '%s\n' "$*" >&2; }

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_http() { # url seconds
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	return 1
}

build() {
	log "building vcd..."
	(cd "$ROOT" && go build -o "$DIR/vcd" ./cmd/vcd)
}

ensure_db() {
	local name
	name="$(printf '%s' "$DB_URL" | sed -E 's|^[a-z]+://[^/]*/([^?]*).*|\1|')"
	if ! psql "$DB_URL" -c 'SELECT 1' >/dev/null 2>&1; then
		log "creating database $name"
		local admin="${DB_URL/\/$name/\/postgres}"
		psql "$admin" -c "CREATE DATABASE \"$name\"" >/dev/null
	fi
}

ensure_nats() {
	local hostport="${NATS_URL#nats://}"
	hostport="${hostport%%,*}"
	if (exec 3<>"/dev/tcp/${hostport%:*}/${hostport#*:}") 2>/dev/null; then
		return 0
	fi
	if ! command -v nats-server >/dev/null; then
		log "nothing answers at $NATS_URL and nats-server is not installed"
		exit 1
	fi
	log "starting nats-server on $hostport"
	nats-server -a "${hostport%:*}" -p "${hostport#*:}" >"$DIR/nats.log" 2>&1 &
	echo $! >"$DIR/nats.pid"
	sleep 0.5
}

secret() {
	if [ -n "${VCD_SECRET_KEY:-}" ]; then
		printf '%s' "$VCD_SECRET_KEY"
		return
	fi
	[ -f "$DIR/secret" ] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DIR/secret"
	cat "$DIR/secret"
}

start_node() { # N
	local n="$1" port=$((BASE_PORT + $1))
	if pid_alive "$DIR/node$n.pid"; then
		log "node$n already runs (pid $(cat "$DIR/node$n.pid"))"
		return
	fi
	mkdir -p "$DIR/node$n"
	VCD_LISTEN="127.0.0.1:$port" VCD_DATA_DIR="$DIR/node$n" VCD_DATABASE_URL="$DB_URL" \
		VCD_SECRET_KEY="$(secret)" VCD_CLUSTER_NATS_URL="$NATS_URL" VCD_CLUSTER_NODE_ID="node$n" \
		VCD_HTTP_TRUSTED_PROXIES="127.0.0.1/32" VCD_LOG_FORMAT=json \
		"$DIR/vcd" >>"$DIR/node$n.log" 2>&1 &
	echo $! >"$DIR/node$n.pid"
	if ! wait_http "http://127.0.0.1:$port/ready" 30; then
		log "node$n did not become ready; last log lines:"
		tail -5 "$DIR/node$n.log" >&2
		exit 1
	fi
	log "node$n: http://127.0.0.1:$port (pid $(cat "$DIR/node$n.pid"))"
}

start_lb() {
	if ! command -v haproxy >/dev/null; then
		log "haproxy is not installed (apt install haproxy): use the nodes directly"
		return
	fi
	if pid_alive "$DIR/haproxy.pid"; then return; fi
	LB_BIND="$LB_ADDR" VCD1_ADDR="127.0.0.1:$((BASE_PORT + 1))" VCD2_ADDR="127.0.0.1:$((BASE_PORT + 2))" \
		VCD3_ADDR="127.0.0.1:$((BASE_PORT + 3))" \
		haproxy -D -f "$ROOT/configs/cluster/haproxy.cfg" -p "$DIR/haproxy.pid"
	wait_http "http://$LB_ADDR/ready" 10 || { log "haproxy does not answer on $LB_ADDR"; exit 1; }
	log "load balancer: http://$LB_ADDR"
}

stop_pid() { # pidfile
	if pid_alive "$1"; then
		kill "$(cat "$1")" 2>/dev/null || true
		local i
		for ((i = 0; i < 100; i++)); do pid_alive "$1" || break; sleep 0.1; done
	fi
	rm -f "$1"
}

case "${1:-start}" in
start)
	build
	ensure_db
	ensure_nats
	for ((n = 1; n <= NODES; n++)); do start_node "$n"; done
	start_lb
	;;
status)
	for ((n = 1; n <= NODES; n++)); do
		if pid_alive "$DIR/node$n.pid"; then
			printf 'node%d pid %s ready: %s\n' "$n" "$(cat "$DIR/node$n.pid")" \
				"$(curl -sS "http://127.0.0.1:$((BASE_PORT + n))/ready" 2>&1 || true)"
		else
			printf 'node%d down\n' "$n"
		fi
	done
	pid_alive "$DIR/haproxy.pid" && printf 'haproxy pid %s on %s\n' "$(cat "$DIR/haproxy.pid")" "$LB_ADDR" || true
	;;
kill)
	n="${2:?which node: 1, 2 or 3}"
	pid_alive "$DIR/node$n.pid" || { log "node$n does not run"; exit 1; }
	kill -9 "$(cat "$DIR/node$n.pid")"
	rm -f "$DIR/node$n.pid"
	log "node$n killed (-9)"
	;;
restart)
	start_node "${2:?which node: 1, 2 or 3}"
	;;
pid)
	cat "$DIR/node${2:?which node}.pid"
	;;
stop)
	stop_pid "$DIR/haproxy.pid"
	for ((n = 1; n <= NODES; n++)); do stop_pid "$DIR/node$n.pid"; done
	stop_pid "$DIR/nats.pid"
	log "stopped"
	;;
*)
	sed -n '2,12p' "$0" >&2
	exit 2
	;;
esac

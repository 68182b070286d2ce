#!/usr/bin/env bash
# Interop run: builds the fixture server (interop/server), starts it on a free
# port, runs every client script in interop/clients against it, stops it.
# Exits non-zero if the build fails, the server does not start, or any
# client check fails. Needs node >= 20 and `npm ci --prefix interop` first.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

if [ ! -d node_modules ]; then
	echo "interop: node_modules missing: run npm ci --prefix interop" >&2
	exit 2
fi

tmp="$(mktemp -d)"
server_pid=""
cleanup() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/server" ./server
"$tmp/server" -addr 127.0.0.1:0 >"$tmp/out" 2>"$tmp/err" &
server_pid=$!

base=""
for _ in $(seq 100); do
	if line="$(grep -m1 '^listening on ' "$tmp/out" 2>/dev/null)"; then
		base="${line#listening on }"
		break
	fi
	if ! kill -0 "$server_pid" 2>/dev/null; then
		break
	fi
	sleep 0.1
done
if [ -z "$base" ]; then
	echo "interop: the server did not start" >&2
	cat "$tmp/err" >&2
	exit 1
fi
echo "server: $base"
export INTEROP_BASE="$base"

status=0
for script in clients/*.mjs; do
	case "$(basename "$script")" in lib*.mjs) continue ;; esac
	echo "-- $(basename "$script" .mjs)"
	if ! node "$script"; then
		status=1
	fi
done

if [ -s "$tmp/err" ]; then
	echo "-- server log"
	cat "$tmp/err"
fi
if [ "$status" -ne 0 ]; then
	echo "interop: FAILED"
else
	echo "interop: ok"
fi
exit "$status"

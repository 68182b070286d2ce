#!/usr/bin/env bash
# Our client against SAP CAP: installs the CAP service of this directory
# (npm ci, exact versions in package-lock.json), starts it on a free port
# with an in-memory SQLite database, waits until it answers $metadata, runs
# interop/capclient against it, stops it, and exits with capclient's status.
# Needs Go, Node 20 or later, npm and curl. See README.md.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

tmp="$(mktemp -d)"
cap_pid=""
cleanup() {
	if [ -n "$cap_pid" ]; then
		kill "$cap_pid" 2>/dev/null || true
		wait "$cap_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

start=$(date +%s)
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
echo "npm ci: $(($(date +%s) - start)) s"

# Built before CAP starts, so that the wait below is CAP's alone.
(cd "$repo" && go build -o "$tmp/capclient" ./interop/capclient)

# @sap/cds 10 says it needs Node 22 and exits at start on Node 20 unless
# told not to check; it runs on 20 with the sql.js driver (README.md).
# PORT=0: the server picks a free port and logs it.
(cd "$here" && exec env CDS_STRICT_NODE_VERSION=false PORT=0 node node_modules/@sap/cds/bin/serve.js) >"$tmp/cap.log" 2>&1 &
cap_pid=$!

root=""
for _ in $(seq 300); do
	if [ -z "$root" ]; then
		port="$(sed -n "s/.*server listening on { url: 'http:\/\/localhost:\([0-9]*\)'.*/\1/p" "$tmp/cap.log" | head -n1)"
		[ -n "$port" ] && root="http://127.0.0.1:$port/odata/v4/catalog/"
	fi
	if [ -n "$root" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' "$root\$metadata")" = 200 ]; then
		break
	fi
	if ! kill -0 "$cap_pid" 2>/dev/null; then
		root=""
		break
	fi
	sleep 0.1
done
if [ -z "$root" ] || [ "$(curl -s -o /dev/null -w '%{http_code}' "$root\$metadata")" != 200 ]; then
	echo "cap: the server did not start" >&2
	cat "$tmp/cap.log" >&2
	exit 1
fi
echo "cap: $(grep -o 'server v[0-9.]*' "$tmp/cap.log" | head -n1), node $(node --version), service root $root"

status=0
"$tmp/capclient" "$root" || status=$?
if [ "$status" -ne 0 ]; then
	echo "-- CAP log"
	cat "$tmp/cap.log"
fi
echo "interop cap: $(($(date +%s) - start)) s in all"
exit "$status"

#!/usr/bin/env bash
# The same real work as one pipeline run, by a bare shell script: what a release costs
# without CodePipeline, CodeBuild and CodeDeploy (or the emulator) around it. Build the
# bundle as bare_build.sh does, unpack it into a temp root, start the app, poll /health
# until it answers (bounded), stop the app. Usage: bare_release.sh SOURCE_ZIP
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source_zip=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
work=$(mktemp -d)
app_pid=""
cleanup() {
  if [[ -n "$app_pid" ]]; then
    kill -TERM "$app_pid" 2>/dev/null || true
    wait "$app_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# Build: the buildspec's commands, then the zipped bundle.
bash "$here/bare_build.sh" "$source_zip" "$work/bundle.zip"

# Install: unpack the bundle into a temp root (appspec: app/ -> the install directory).
mkdir -p "$work/root"
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \
  "$work/bundle.zip" "$work/root"
test -f "$work/root/app/src/server.js"

# Start: the app on a free port (PORT=0), bound to loopback; the port from its log line.
log="$work/app.log"
(
  cd "$work/root/app"
  exec env -u APP_VERSION -u APP_COMMIT NODE_ENV=production PORT=0 HOST=127.0.0.1 \
    node src/server.js
) </dev/null >"$log" 2>&1 &
app_pid=$!
port=""
for _ in $(seq 1 150); do # up to 15 s for the "listening" line
  port=$(sed -n 's/.*"msg":"listening".*"port":\([0-9]*\).*/\1/p' "$log" | head -n 1)
  [[ -n "$port" ]] && break
  kill -0 "$app_pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$port" ]] || { echo "the app did not report a port" >&2; cat "$log" >&2; exit 1; }

# Validate: GET /health until it answers 200 (bounded retry).
healthy=""
for _ in $(seq 1 100); do
  if curl -fsS --max-time 3 "http://127.0.0.1:$port/health" >/dev/null 2>&1; then
    healthy=1
    break
  fi
  sleep 0.1
done
[[ -n "$healthy" ]] || { echo "/health never answered on port $port" >&2; exit 1; }

# Stop: a graceful shutdown, then wait for the exit.
kill -TERM "$app_pid"
wait "$app_pid" || true
app_pid=""

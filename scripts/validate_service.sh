#!/bin/bash
# ValidateService: poll http://127.0.0.1:$OPSLIB_APP_PORT/health until it answers
# {"status":"ok"} (and, when release.json says which, the installed version).
# VALIDATE_RETRIES (default 30) tries, VALIDATE_INTERVAL (default 1) seconds apart.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(cd "$(dirname "$0")" && pwd)/common.sh"

RETRIES="${VALIDATE_RETRIES:-30}"
INTERVAL="${VALIDATE_INTERVAL:-1}"
[[ "$RETRIES" =~ ^[0-9]+$ && "$RETRIES" -ge 1 ]] || fail "VALIDATE_RETRIES must be a positive integer, got '$RETRIES'"
[[ "$INTERVAL" =~ ^[0-9]+(\.[0-9]+)?$ ]] || fail "VALIDATE_INTERVAL must be a number of seconds, got '$INTERVAL'"
URL="http://127.0.0.1:$APP_PORT/health"
EXPECTED_VERSION="$(installed_version)"

# GET $1; prints the body, then a last line with the HTTP status code. Non-zero on no answer.
http_get() {
  if command -v curl >/dev/null 2>&1; then
    curl -sS --max-time 3 -w '\n%{http_code}' "$1" 2>&1
  else
    local node
    node="$(find_node)" || { echo "neither curl nor node is available"; return 1; }
    "$node" -e '
      const req = require("node:http").get(process.argv[1], { timeout: 3000 }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c) => { body += c; });
        res.on("end", () => { process.stdout.write(body + "\n" + res.statusCode); });
      });
      req.on("timeout", () => req.destroy(new Error("timed out after 3 s")));
      req.on("error", (e) => { process.stdout.write(String(e.message)); process.exitCode = 1; });
    ' "$1" 2>&1
  fi
}

last="no attempt made"
for (( try = 1; try <= RETRIES; try++ )); do
  if out="$(http_get "$URL")"; then
    code="${out##*$'\n'}"
    body="${out%$'\n'*}"
    if [[ "$code" == "200" ]] && grep -Eq '"status"[[:space:]]*:[[:space:]]*"ok"' <<<"$body"; then
      if [[ -z "$EXPECTED_VERSION" ]] || grep -Fq "\"version\":\"$EXPECTED_VERSION\"" <<<"$body"; then
        log "healthy on port $APP_PORT after $try tries: $body"
        exit 0
      fi
      last="HTTP $code $body (serving another version, expected $EXPECTED_VERSION)"
    else
      last="HTTP $code $body"
    fi
  else
    # curl printed its error, then the "000" status line of -w: keep the error.
    [[ "$out" == *$'\n'* ]] && out="${out%$'\n'*}"
    last="$(tr '\n' ' ' <<<"$out" | sed -e 's/[[:space:]]*$//')"
  fi
  if (( try < RETRIES )); then
    sleep "$INTERVAL"
  fi
done

{
  echo "ValidateService: app not healthy on port $APP_PORT after $RETRIES tries: $last"
  log_tail 20
} >&2
exit 1

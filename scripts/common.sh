# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables are used by the scripts that source this file
# Shared settings and helpers for the CodeDeploy lifecycle hooks of sample-app.
# Sourced by the hook scripts (never executed on its own).
#
# Works on a real Amazon Linux 2023 instance (CodeDeploy agent, root, systemd) and on an
# opslib emulator host. Environment contract:
#   OPSLIB_HOST_ROOT   prefix of every absolute path of this host (emulator); unset on EC2 = "/"
#   OPSLIB_APP_PORT    port the app listens on (default 3000)
#   OPSLIB_APP_HOST    address the app binds (default 0.0.0.0 on EC2, 127.0.0.1 under a host root)
#   NODE_BIN           node executable to use (default: `node` on PATH, then well-known places)
#   SAMPLE_APP_USER    user the systemd service runs as (default ec2-user if it exists, else root)
#   STOP_TIMEOUT       seconds ApplicationStop waits after TERM before KILL (default 20)
#   START_TIMEOUT      seconds ApplicationStart waits for the "listening" log line (default 15)
#   VALIDATE_RETRIES / VALIDATE_INTERVAL   ValidateService polling (default 30 x 1 s)
# Plus CodeDeploy's own LIFECYCLE_EVENT, DEPLOYMENT_ID, APPLICATION_NAME, DEPLOYMENT_GROUP_NAME.

APP_NAME="sample-app"
HOST_ROOT="${OPSLIB_HOST_ROOT:-}"
HOST_ROOT="${HOST_ROOT%/}"
APP_PORT="${OPSLIB_APP_PORT:-3000}"
if [[ -n "$HOST_ROOT" ]]; then
  APP_HOST="${OPSLIB_APP_HOST:-127.0.0.1}"
else
  APP_HOST="${OPSLIB_APP_HOST:-0.0.0.0}"
fi
INSTALL_DIR="$HOST_ROOT/opt/$APP_NAME"
RUN_DIR="$HOST_ROOT/var/run"
PID_FILE="$RUN_DIR/$APP_NAME.pid"
LOG_DIR="$HOST_ROOT/var/log/$APP_NAME"
LOG_FILE="$LOG_DIR/app.log"
BOOT_DIR="$HOST_ROOT/etc/opslib/boot.d"   # emulator hosts only: what runs at (emulated) boot
SYSTEMD_UNIT="$APP_NAME.service"
SYSTEMD_UNIT_FILE="/etc/systemd/system/$SYSTEMD_UNIT"
HOOK_NAME="${LIFECYCLE_EVENT:-$(basename "$0" .sh)}"
SCRIPT_DIR="$(cd "$(dirname "$0")" && pwd)"

if ! [[ "$APP_PORT" =~ ^[0-9]+$ ]] || (( APP_PORT < 1 || APP_PORT > 65535 )); then
  echo "$HOOK_NAME: OPSLIB_APP_PORT must be a port number 1-65535, got '$APP_PORT'" >&2
  exit 2
fi

log() {
  printf '%s %s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$HOOK_NAME" "$*"
}

fail() {
  printf '%s: %s\n' "$HOOK_NAME" "$*" >&2
  exit 1
}

# True when the app is managed by systemd: a real host (no host root) booted with systemd.
use_systemd() {
  [[ -z "$HOST_ROOT" && -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1
}

# Print the node executable, or return 1. The CodeDeploy agent's PATH is minimal, and
# Amazon Linux 2023's nodejs20 package installs /usr/bin/node-20.
find_node() {
  local candidate
  if [[ -n "${NODE_BIN:-}" ]]; then
    [[ -x "$NODE_BIN" ]] || command -v "$NODE_BIN" >/dev/null 2>&1 || return 1
    command -v "$NODE_BIN"
    return 0
  fi
  if command -v node >/dev/null 2>&1; then
    command -v node
    return 0
  fi
  for candidate in /usr/bin/node-20 /usr/local/bin/node /opt/node/bin/node \
    /home/ec2-user/.nvm/versions/node/*/bin/node /root/.nvm/versions/node/*/bin/node; do
    if [[ -x "$candidate" ]]; then
      printf '%s\n' "$candidate"
      return 0
    fi
  done
  return 1
}

# True when pid $1 is a live process (a zombie counts as gone).
pid_alive() {
  local pid="$1" state
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r "/proc/$pid/stat" ]]; then
    # Field 3 of /proc/PID/stat is the state; the command name before it is in parentheses.
    state="$(sed -e 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)" || return 1
    [[ "$state" != "Z" ]] || return 1
  fi
  return 0
}

# True when pid $1 runs this app's server.js (guards against a recycled pid).
pid_is_app() {
  local pid="$1"
  pid_alive "$pid" || return 1
  if [[ -r "/proc/$pid/cmdline" ]]; then
    grep -Fq -- "$INSTALL_DIR/src/server.js" <<<"$(tr '\0' ' ' <"/proc/$pid/cmdline")"
  fi
}

# The pid recorded in the pid file, or nothing.
read_pid_file() {
  if [[ -f "$PID_FILE" ]]; then
    tr -dc '0-9' <"$PID_FILE"
  fi
}

# The version the installed release.json names, or nothing.
installed_version() {
  local file="$INSTALL_DIR/release.json"
  [[ -r "$file" ]] || return 0
  sed -n 's/.*"version"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p;T;q' "$file"
}

log_tail() {
  local lines="${1:-20}"
  if [[ -r "$LOG_FILE" ]]; then
    echo "--- last $lines lines of $LOG_FILE ---"
    tail -n "$lines" "$LOG_FILE"
    echo "--- end of $LOG_FILE ---"
  else
    echo "(no log file at $LOG_FILE)"
  fi
}

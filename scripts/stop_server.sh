#!/bin/bash
# ApplicationStop: stop sample-app if it runs; succeed when nothing runs.
# CodeDeploy runs this hook from the *previous successful* revision, so it stops both kinds of
# installs: the systemd service (real instance) and the pid-file process (emulator/no systemd).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(cd "$(dirname "$0")" && pwd)/common.sh"

STOP_TIMEOUT="${STOP_TIMEOUT:-20}"

stop_systemd() {
  if systemctl cat "$SYSTEMD_UNIT" >/dev/null 2>&1; then
    if systemctl is-active --quiet "$SYSTEMD_UNIT"; then
      log "stopping $SYSTEMD_UNIT"
      systemctl stop "$SYSTEMD_UNIT"
      log "stopped $SYSTEMD_UNIT"
    else
      log "$SYSTEMD_UNIT is not active"
    fi
  fi
}

# TERM the pid-file process, wait up to STOP_TIMEOUT seconds, then KILL.
stop_pid_file() {
  local pid waited=0 step=0.2 deadline
  pid="$(read_pid_file)"
  if [[ -z "$pid" ]]; then
    log "no pid file at $PID_FILE: nothing to stop"
    return 0
  fi
  if ! pid_is_app "$pid"; then
    log "pid $pid from $PID_FILE is not running $APP_NAME: removing the stale pid file"
    rm -f "$PID_FILE"
    return 0
  fi
  log "sending TERM to $APP_NAME (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$(( STOP_TIMEOUT * 5 ))
  while pid_alive "$pid" && (( waited < deadline )); do
    sleep "$step"
    waited=$(( waited + 1 ))
  done
  if pid_alive "$pid"; then
    log "pid $pid still alive after ${STOP_TIMEOUT}s: sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
    waited=0
    while pid_alive "$pid" && (( waited < 25 )); do
      sleep "$step"
      waited=$(( waited + 1 ))
    done
    if pid_alive "$pid"; then
      fail "could not stop $APP_NAME (pid $pid) even with KILL"
    fi
  fi
  rm -f "$PID_FILE"
  log "stopped $APP_NAME (pid $pid)"
}

if use_systemd; then
  stop_systemd
fi
stop_pid_file

#!/bin/bash
# ApplicationStart: start the installed sample-app on $OPSLIB_APP_PORT.
# Real instance with systemd: a systemd unit. Otherwise (emulator host, no systemd): a detached
# process with a pid file, stdout/stderr appended to the log file so this hook returns at once.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(cd "$(dirname "$0")" && pwd)/common.sh"

START_TIMEOUT="${START_TIMEOUT:-15}"
SERVER_JS="$INSTALL_DIR/src/server.js"

[[ -f "$SERVER_JS" ]] || fail "$SERVER_JS is missing: was the revision installed to $INSTALL_DIR?"
NODE="$(find_node)" || fail "node not found (PATH=$PATH; set NODE_BIN or install Node.js 20)"
mkdir -p "$LOG_DIR" "$RUN_DIR"

service_user() {
  if [[ -n "${SAMPLE_APP_USER:-}" ]]; then
    id -u "$SAMPLE_APP_USER" >/dev/null 2>&1 || fail "SAMPLE_APP_USER=$SAMPLE_APP_USER does not exist"
    printf '%s\n' "$SAMPLE_APP_USER"
  elif id -u ec2-user >/dev/null 2>&1; then
    echo ec2-user
  else
    echo root
  fi
}

start_systemd() {
  local user tmp
  user="$(service_user)"
  tmp="$(mktemp "$SYSTEMD_UNIT_FILE.XXXXXX")"
  cat >"$tmp" <<UNIT
# Written by the CodeDeploy ApplicationStart hook of $APP_NAME (deployment ${DEPLOYMENT_ID:-unknown}).
[Unit]
Description=$APP_NAME (Node.js service deployed by CodeDeploy)
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User=$user
WorkingDirectory=$INSTALL_DIR
Environment=NODE_ENV=production
Environment=PORT=$APP_PORT
Environment=HOST=$APP_HOST
ExecStart=$NODE $SERVER_JS
Restart=on-failure
RestartSec=2
KillSignal=SIGTERM
TimeoutStopSec=${STOP_TIMEOUT:-20}
StandardOutput=append:$LOG_FILE
StandardError=append:$LOG_FILE

[Install]
WantedBy=multi-user.target
UNIT
  chmod 644 "$tmp"
  mv -f "$tmp" "$SYSTEMD_UNIT_FILE"
  systemctl daemon-reload
  systemctl enable "$SYSTEMD_UNIT" >/dev/null 2>&1 || log "warning: could not enable $SYSTEMD_UNIT at boot"
  systemctl restart "$SYSTEMD_UNIT"
  if ! systemctl is-active --quiet "$SYSTEMD_UNIT"; then
    systemctl status --no-pager "$SYSTEMD_UNIT" >&2 || true
    log_tail 20 >&2
    fail "$SYSTEMD_UNIT did not become active"
  fi
  log "started $SYSTEMD_UNIT as $user on $APP_HOST:$APP_PORT (version $(installed_version))"
}

# What `systemctl enable` is on a real instance: an entry the host runs at every boot. On an
# emulator host (no systemd) the emulator runs $BOOT_DIR's entries when it starts again, so a
# running instance serves its app after a restart without a new deployment.
write_boot_entry() {
  local entry="$BOOT_DIR/$APP_NAME" tmp
  mkdir -p "$BOOT_DIR"
  tmp="$(mktemp "$entry.XXXXXX")"
  {
    echo '#!/bin/bash'
    echo "# Written by ApplicationStart of deployment ${DEPLOYMENT_ID:-unknown}: starts $APP_NAME at boot."
    printf 'cd %q || exit 1\n' "$INSTALL_DIR"
    printf 'env -u APP_VERSION -u APP_COMMIT NODE_ENV=production PORT=%q HOST=%q %s %q %q' \
      "$APP_PORT" "$APP_HOST" "$*" "$NODE" "$SERVER_JS"
    printf ' </dev/null >>%q 2>&1 &\n' "$LOG_FILE"
    printf 'echo "$!" >%q\n' "$PID_FILE"
  } >"$tmp"
  chmod 755 "$tmp"
  mv -f "$tmp" "$entry"
}

start_pid_file() {
  local old pid offset rc new_lines waited=0 deadline
  old="$(read_pid_file)"
  if [[ -n "$old" ]] && pid_is_app "$old"; then
    log "$APP_NAME already runs (pid $old): stopping it first"
    "$SCRIPT_DIR/stop_server.sh"
  fi
  touch "$LOG_FILE"
  offset="$(wc -c <"$LOG_FILE")"

  local launcher=()
  if command -v setsid >/dev/null 2>&1; then
    launcher=(setsid)   # own session: the agent's TERM to this hook's process group spares it
  else
    launcher=(nohup)
  fi
  # stdin from /dev/null, stdout+stderr to the log: no pipe of the agent stays open.
  # APP_VERSION/APP_COMMIT are dropped so the app reports its release.json.
  (
    cd "$INSTALL_DIR"
    exec env -u APP_VERSION -u APP_COMMIT NODE_ENV=production PORT="$APP_PORT" HOST="$APP_HOST" \
      "${launcher[@]}" "$NODE" "$SERVER_JS"
  ) </dev/null >>"$LOG_FILE" 2>&1 &
  pid=$!
  printf '%s\n' "$pid" >"$PID_FILE"
  log "launched $APP_NAME (pid $pid) on $APP_HOST:$APP_PORT, log $LOG_FILE"
  [[ -z "$HOST_ROOT" ]] || write_boot_entry "${launcher[@]}"

  # Wait for the app's own "listening" log line (or its early death, e.g. port in use).
  deadline=$(( START_TIMEOUT * 10 ))
  while (( waited < deadline )); do
    # Captured, not piped: with pipefail `tail | grep -q` can fail on SIGPIPE.
    new_lines="$(tail -c "+$(( offset + 1 ))" "$LOG_FILE")"
    if grep -Eq "\"msg\":\"listening\".*\"pid\":${pid}[,}]" <<<"$new_lines"; then
      log "$APP_NAME is listening on port $APP_PORT (pid $pid, version $(installed_version))"
      return 0
    fi
    if ! pid_alive "$pid"; then
      rc=0
      wait "$pid" || rc=$?
      rm -f "$PID_FILE"
      log_tail 20 >&2
      fail "$APP_NAME (pid $pid) exited with status $rc right after start"
    fi
    sleep 0.1
    waited=$(( waited + 1 ))
  done
  log "warning: no 'listening' line from pid $pid after ${START_TIMEOUT}s; ValidateService will decide"
}

if use_systemd; then
  start_systemd
else
  start_pid_file
fi

# shellcheck shell=bash
# .ci/postgres.sh -- start a throwaway PostgreSQL server for the test suite.
#
#   source .ci/postgres.sh        # from .ci/run, or by hand in a dev shell
#
# On success it exports
#   LOBBY_TEST_POSTGRES_URL  postgres://lobby@127.0.0.1:PORT/lobby_test (trust auth, no password)
#   LOBBY_PG_DIR             temp dir with the cluster (data/), server.log and the socket
#   LOBBY_PG_BIN             directory holding initdb/pg_ctl/postgres/psql
# and defines lobby_pg_stop (stop the server, delete LOBBY_PG_DIR).
#
# NOTE: sourcing installs an EXIT trap in the *sourcing* shell, so the server
# goes away when that shell exits. An EXIT trap set before sourcing is kept and
# runs after ours (with the original $?); if you set one after sourcing, call
# lobby_pg_stop from it yourself.
#
# If LOBBY_TEST_POSTGRES_URL already reaches a server, nothing is done, so it is
# cheap to source twice or from a child of a shell that already did.
# If no server binaries exist and we are root, installs Debian's `postgresql`.
# Safe under `set -euo pipefail`: every step is checked and failures return 1.

if ! (return 0 2>/dev/null); then
    echo "postgres.sh: source this file (source .ci/postgres.sh), don't execute it" >&2
    exit 1
fi

# Run a command as the cluster owner: initdb/postgres refuse to run as root.
# `cd /` because the caller's cwd (e.g. /root) may be unreadable for that user.
_lobby_pg_as() {
    if [ -n "${_LOBBY_PG_USER:-}" ]; then
        (cd / && runuser -u "$_LOBBY_PG_USER" -- "$@")
    else
        "$@"
    fi
}

# Set LOBBY_PG_BIN to the newest /usr/lib/postgresql/<ver>/bin that has the
# *server* (postgresql-client also puts psql there, but no initdb); fall back to PATH.
_lobby_pg_find_bin() {
    local d
    for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -rV) \
             "$(dirname "$(command -v pg_ctl || echo /nonexistent/x)")"; do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
            LOBBY_PG_BIN=$d
            return 0
        fi
    done
    return 1
}

lobby_pg_stop() {
    # Only touch the directory this shell created (never a value from the environment).
    if [ -n "${_LOBBY_PG_OURS:-}" ] && [ -d "$_LOBBY_PG_OURS" ]; then
        if [ -f "$_LOBBY_PG_OURS/data/postmaster.pid" ]; then
            _lobby_pg_as "$LOBBY_PG_BIN/pg_ctl" -D "$_LOBBY_PG_OURS/data" -m immediate -w stop \
                >/dev/null 2>&1 || true
        fi
        rm -rf "$_LOBBY_PG_OURS"
        unset LOBBY_TEST_POSTGRES_URL LOBBY_PG_DIR
    fi
    _LOBBY_PG_OURS=
}

# EXIT trap: stop our server first (a caller trap may `exit`, which would skip
# us), then run the caller's previous trap with $? restored. Written as if/else
# because a non-zero status would trip `set -e` inside the trap.
_lobby_pg_on_exit() {
    local rc=$?
    lobby_pg_stop
    if [ -z "${_LOBBY_PG_PREV_TRAP:-}" ]; then return 0; fi
    if [ "$rc" -eq 0 ]; then eval "$_LOBBY_PG_PREV_TRAP"; else (exit "$rc") || eval "$_LOBBY_PG_PREV_TRAP"; fi
}

_lobby_pg_fail() {
    echo "postgres.sh: $*" >&2
    lobby_pg_stop
    return 1
}

_lobby_pg_start() {
    local psql dir port try prev log

    _lobby_pg_find_bin || true

    # Reuse a server that is already reachable (sourced twice / inherited from a parent).
    if [ -n "${LOBBY_TEST_POSTGRES_URL:-}" ]; then
        psql=${LOBBY_PG_BIN:-/nonexistent}/psql
        [ -x "$psql" ] || psql=$(command -v psql || true)
        if [ -n "$psql" ] && PGCONNECT_TIMEOUT=3 "$psql" "$LOBBY_TEST_POSTGRES_URL" -Atqc 'select 1' \
            >/dev/null 2>&1; then
            return 0
        fi
        echo "postgres.sh: LOBBY_TEST_POSTGRES_URL is set but unreachable; starting a new server" >&2
    fi

    if ! _lobby_pg_find_bin; then
        if [ "$EUID" -ne 0 ]; then
            _lobby_pg_fail "PostgreSQL server not found; install it (apt-get install postgresql)" || return
        fi
        echo "postgres.sh: PostgreSQL not found, installing it with apt-get (takes a minute)..." >&2
        log=$(mktemp)
        if ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql; } \
            >"$log" 2>&1; then
            tail -n 20 "$log" >&2
            rm -f "$log"
            _lobby_pg_fail "apt-get install postgresql failed (output above)" || return
        fi
        rm -f "$log"
        # The package's postinst may create and start its own "main" cluster; we don't use it.
        if ! _lobby_pg_find_bin; then
            _lobby_pg_fail "installed postgresql but found no initdb/pg_ctl/postgres in /usr/lib/postgresql/*/bin" || return
        fi
    fi

    _LOBBY_PG_USER=
    if [ "$EUID" -eq 0 ]; then
        # The Debian package creates `postgres`; otherwise make a system user of our own.
        if id -u postgres >/dev/null 2>&1; then
            _LOBBY_PG_USER=postgres
        else
            if ! id -u lobbypg >/dev/null 2>&1 &&
                ! useradd --system --no-create-home --shell /usr/sbin/nologin lobbypg; then
                _lobby_pg_fail "could not create user lobbypg to run PostgreSQL as" || return
            fi
            _LOBBY_PG_USER=lobbypg
        fi
    fi

    # Under /tmp (not $TMPDIR): short enough for a Unix socket path, and
    # traversable by the unprivileged user.
    if ! dir=$(mktemp -d /tmp/lobby-pg.XXXXXX); then
        _lobby_pg_fail "mktemp failed" || return
    fi
    _LOBBY_PG_OURS=$dir

    # Install the EXIT trap as soon as there is something to clean up.
    prev=$(trap -p EXIT)
    case $prev in
        *_lobby_pg_on_exit*) ;; # already ours (sourced again after lobby_pg_stop)
        *)
            _LOBBY_PG_PREV_TRAP=
            if [ -n "$prev" ]; then
                prev=${prev#"trap -- "}
                eval "_LOBBY_PG_PREV_TRAP=${prev% EXIT}" # un-quote the command text
            fi
            trap _lobby_pg_on_exit EXIT
            ;;
    esac

    if [ -n "$_LOBBY_PG_USER" ] && ! chown "$_LOBBY_PG_USER" "$dir"; then
        _lobby_pg_fail "could not chown $dir to $_LOBBY_PG_USER" || return
    fi

    # C.UTF-8 so initdb doesn't depend on the caller's (possibly ungenerated) locale.
    if ! _lobby_pg_as "$LOBBY_PG_BIN/initdb" -D "$dir/data" -A trust -U lobby -E UTF8 \
        --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1; then
        cat "$dir/initdb.log" >&2
        _lobby_pg_fail "initdb failed" || return
    fi

    # Random start port so parallel runs rarely collide; if the port is taken
    # postgres can't bind, pg_ctl fails fast, and we try the next one.
    port=$((20000 + RANDOM % 20000))
    for try in 1 2 3 4 5 6 7 8 9 10; do
        if _lobby_pg_as "$LOBBY_PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -s start \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
            >/dev/null 2>&1; then
            break
        fi
        if [ "$try" -eq 10 ]; then
            tail -n 20 "$dir/server.log" >&2 || true
            _lobby_pg_fail "could not start PostgreSQL (log above)" || return
        fi
        port=$((port + 1))
    done

    if ! "$LOBBY_PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U lobby lobby_test; then
        _lobby_pg_fail "createdb lobby_test failed" || return
    fi

    export LOBBY_PG_BIN LOBBY_PG_DIR=$dir
    export LOBBY_TEST_POSTGRES_URL="postgres://lobby@127.0.0.1:$port/lobby_test"
}

_lobby_pg_start

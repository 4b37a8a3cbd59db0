#!/usr/bin/env bash
# A private, throwaway PostgreSQL cluster for the tests. One script for both users, so
# they cannot drift apart: tests/common/postgres.rs runs it when a test binary has no
# server, and .ci/postgres runs it once for a whole CI run. See docs/testing.md.
#
#   postgres-cluster.sh probe URL        exit 0 when URL accepts a connection
#   postgres-cluster.sh start OWNER_PID  start a cluster; print url=, port=, dir= lines
#   postgres-cluster.sh stop DIR         stop the cluster in DIR and remove DIR
#
# `start` installs Debian's postgresql when its binaries are missing (as root only),
# runs initdb with trust authentication in a fresh directory, listens on 127.0.0.1 only,
# on a free port, with its unix socket in that directory, and leaves a watchdog behind
# that stops the cluster and removes the directory once OWNER_PID is gone: whoever
# started it may be killed without a chance to clean up (and a Rust static is never
# dropped). Everything but the final lines goes to stderr, so stdout can be parsed.
set -euo pipefail

die() {
  printf 'postgres-cluster: %s\n' "$*" >&2
  exit 1
}

# Runs a PostgreSQL program as the user that owns the cluster: `postgres` when we are
# root (initdb and postgres refuse to run as root), ourselves otherwise.
as_owner() {
  if [ "$(id -u)" -ne 0 ]; then
    "$@"
  elif command -v runuser >/dev/null; then
    runuser -u postgres -- "$@"
  else
    su -s /bin/sh -c '"$0" "$@"' postgres -- "$@"
  fi
}

# The newest bin directory of Debian's postgresql packages that has all we need.
find_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

install_postgresql() {
  if [ "$(id -u)" -ne 0 ]; then
    die "no PostgreSQL server binaries (initdb, pg_ctl, postgres) under" \
      "/usr/lib/postgresql/*/bin, and only root may install them: install Debian's" \
      "package 'postgresql' (apt-get install postgresql), or point CRONQ_TEST_POSTGRES" \
      "at a server (e.g. postgresql://postgres@127.0.0.1:5432/postgres)"
  fi
  # Test binaries may get here at the same time; dpkg allows one install at a time.
  exec 9>/tmp/cronq-postgres-install.lock
  flock 9
  if ! find_bindir >/dev/null; then
    echo "postgres-cluster: installing Debian's postgresql (needed by the tests)" >&2
    apt-get update -qq >&2 ||
      die "apt-get update failed; install Debian's package 'postgresql' by hand"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2 ||
      die "apt-get install postgresql failed; install Debian's package 'postgresql'"
  fi
  exec 9>&-
}

probe() {
  local url=$1 host port
  if command -v psql >/dev/null; then
    PGCONNECT_TIMEOUT=3 psql "$url" -XAtqc 'select 1' >/dev/null 2>&1
  else
    # Without a client, an open port is the best we can tell; the Rust helper still
    # checks that it really lets us in.
    host=${url#*@}
    host=${host%%/*}
    port=${host##*:}
    host=${host%:*}
    (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
  fi
}

port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
  local owner=$1 bindir dir port attempt
  kill -0 "$owner" 2>/dev/null || die "owner process $owner is not running"
  bindir=$(find_bindir) || {
    install_postgresql
    bindir=$(find_bindir) ||
      die "Debian's postgresql is installed but no initdb under /usr/lib/postgresql/*/bin"
  }
  # /tmp when root: the postgres user must be able to reach the directory, and TMPDIR
  # may be one of root's private directories. The name stays short because a unix
  # socket path may hold at most 107 bytes.
  if [ "$(id -u)" -eq 0 ]; then
    dir=$(mktemp -d /tmp/cronq-pg-XXXXXXXX)
    chown postgres: "$dir"
  else
    dir=$(mktemp -d "${TMPDIR:-/tmp}/cronq-pg-XXXXXXXX")
  fi
  # The watchdog comes first, so that no later failure can leave a cluster behind. It
  # is its own session with no open pipes: a Ctrl-C on the tests does not kill it, and
  # it does not keep the caller waiting for our stdout to close.
  setsid bash -c '
    owner=$1 dir=$2 script=$3
    while kill -0 "$owner" 2>/dev/null && [ -d "$dir" ]; do sleep 0.5; done
    exec bash "$script" stop "$dir"
  ' watchdog "$owner" "$dir" "$(realpath "$0")" </dev/null >/dev/null 2>&1 &
  cd "$dir" # the postgres user may not be allowed to read our working directory
  as_owner "$bindir/initdb" -D "$dir/data" --auth=trust --username=postgres \
    --encoding=UTF8 --locale=C --no-sync --no-instructions >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    die "initdb failed (output above)"
  }
  # A port nothing answers on, below Linux's ephemeral range so that no outgoing
  # connection takes it meanwhile. Another process may still bind it first: then the
  # server cannot start and we try another.
  for attempt in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 12000))
    port_free "$port" || continue
    # Durability settings off: the cluster is thrown away, and the tests run faster.
    if as_owner "$bindir/pg_ctl" start -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off \
          -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      >/dev/null 2>&1; then
      echo "url=postgresql://postgres@127.0.0.1:$port/postgres"
      echo "port=$port"
      echo "dir=$dir"
      return 0
    fi
    if ! grep -q 'Address already in use' "$dir/server.log" 2>/dev/null; then
      break
    fi
    as_owner "$bindir/pg_ctl" stop -D "$dir/data" -m immediate >/dev/null 2>&1 || true
  done
  echo "--- server log ($dir/server.log):" >&2
  cat "$dir/server.log" >&2 2>/dev/null || true
  stop "$dir"
  die "the private PostgreSQL cluster did not start within 60 s (server log above)"
}

stop() {
  local dir=$1 bindir
  case $(basename "$dir") in
  cronq-pg-*) ;;
  *) die "refusing to remove $dir: not a directory this script made" ;;
  esac
  [ -d "$dir" ] || return 0
  if [ -f "$dir/data/postmaster.pid" ] && bindir=$(find_bindir); then
    (cd "$dir" && as_owner "$bindir/pg_ctl" stop -D "$dir/data" -m immediate -w) \
      >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

case ${1:-} in
probe) probe "$2" ;;
start) start "$2" ;;
stop) stop "$2" ;;
*) die "usage: $0 probe URL | start OWNER_PID | stop DIR" ;;
esac

#!/usr/bin/env bash
# Make sure a local PostgreSQL answers on 127.0.0.1:5432 with a superuser role
# characters/characters (what scripts/test.sh's PostgreSQL pass connects as):
# installs the Debian `postgresql` package if missing, creates a cluster if there is none,
# starts it (no systemd needed), then creates or fixes the role. Idempotent; needs root (or
# passwordless sudo) unless the server is already running with that role.
# Exit status: 0 ready, 1 could not make it ready (a one-line reason on stderr).
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."
export DEBIAN_FRONTEND=noninteractive

PG_HOST=127.0.0.1
PG_PORT=5432
PG_ROLE=characters
PG_PASSWORD=characters
URL="postgresql://$PG_ROLE:$PG_PASSWORD@$PG_HOST:$PG_PORT/postgres"

say() { printf '==> %s\n' "$*"; }
die() { printf 'start-postgres.sh: error: %s\n' "$*" >&2; exit 1; }

# Is the server up with our role able to log in as a superuser?
ready() {
  command -v psql >/dev/null &&
    [[ $(PGCONNECT_TIMEOUT=3 psql -X -w -q -t -A "$URL" -c 'SELECT rolsuper FROM pg_roles WHERE rolname = current_user' 2>/dev/null) == t ]]
}

if ready; then
  say "PostgreSQL ready at $PG_HOST:$PG_PORT (role $PG_ROLE)"
  exit 0
fi

SUDO=()
if ((EUID != 0)); then
  sudo -n true 2>/dev/null || die "PostgreSQL is not ready at $PG_HOST:$PG_PORT and setting it up needs root (or passwordless sudo)"
  SUDO=(sudo -n)
fi
as_postgres() { (cd / && "${SUDO[@]}" runuser -u postgres -- "$@"); }

# 1. Install.
if ! command -v pg_lsclusters >/dev/null || ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then
  command -v apt-get >/dev/null || die "PostgreSQL is not installed and there is no apt-get to install it"
  say "apt-get install postgresql"
  apt=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Use-Pty=0)
  if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null ||
    ! "${apt[@]}" install --no-install-recommends postgresql >/tmp/apt-postgresql.log 2>&1; then
    "${apt[@]}" update >/tmp/apt-update.log 2>&1 || { tail -n 20 /tmp/apt-update.log >&2; die "apt-get update failed"; }
    "${apt[@]}" install --no-install-recommends postgresql >/tmp/apt-postgresql.log 2>&1 ||
      { tail -n 20 /tmp/apt-postgresql.log >&2; die "apt-get install postgresql failed"; }
  fi
fi

# 2. A cluster on our port (the package normally creates "<version> main" on 5432; it picks
# another port if 5432 was taken when it was installed: such a cluster is moved to 5432).
cluster() { pg_lsclusters -h 2>/dev/null | awk -v port="$PG_PORT" '$3 == port { print $1, $2, $4; exit }'; }
port_taken() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT"; (($? != 2)); }
version="" name="" status=""
read -r version name status < <(cluster) || true
if [[ -z $version ]]; then
  port_taken && die "something on $PG_HOST:$PG_PORT answers but does not accept $PG_ROLE/$PG_PASSWORD, and it is not a cluster of this machine's"
  read -r version name status < <(pg_lsclusters -h 2>/dev/null | sort -V -k1,1 | awk '{ print $1, $2, $4 }' | tail -n 1) || true
  if [[ -n $version ]]; then
    say "moving cluster $version $name to port $PG_PORT"
    [[ $status == online* ]] && "${SUDO[@]}" pg_ctlcluster "$version" "$name" stop
    "${SUDO[@]}" pg_conftool "$version" "$name" set port "$PG_PORT"
  else
    version=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)
    say "creating cluster $version main on port $PG_PORT"
    "${SUDO[@]}" pg_createcluster "$version" main --port "$PG_PORT" >/tmp/pg-createcluster.log 2>&1 ||
      { tail -n 20 /tmp/pg-createcluster.log >&2; die "pg_createcluster $version main failed"; }
  fi
  read -r version name status < <(cluster) || die "no PostgreSQL cluster on port $PG_PORT after setting one up"
fi

# 3. Start it (pg_ctlcluster runs postgres directly when systemd is not running).
if [[ $status != online* ]]; then
  say "starting cluster $version $name"
  "${SUDO[@]}" pg_ctlcluster "$version" "$name" start >/tmp/pg-start.log 2>&1 || {
    tail -n 20 /tmp/pg-start.log "/var/log/postgresql/postgresql-$version-$name.log" >&2 2>/dev/null || true
    die "pg_ctlcluster $version $name start failed"
  }
fi
for _ in $(seq 1 60); do
  pg_isready -q -h "$PG_HOST" -p "$PG_PORT" && break
  sleep 0.5
done
pg_isready -q -h "$PG_HOST" -p "$PG_PORT" || die "PostgreSQL $version $name does not accept connections on $PG_HOST:$PG_PORT"

# 4. The role (created, or made a superuser with the expected password). Over the local socket
# as the postgres OS user, which Debian's default pg_hba.conf trusts ("peer").
say "ensuring superuser role $PG_ROLE"
as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres >/dev/null <<SQL ||
SELECT format('CREATE ROLE %I', '$PG_ROLE')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_ROLE') \gexec
ALTER ROLE "$PG_ROLE" WITH LOGIN SUPERUSER PASSWORD '$PG_PASSWORD';
SQL
  die "could not create role $PG_ROLE"

ready || die "PostgreSQL is running but $URL does not log in as a superuser (check pg_hba.conf)"
say "PostgreSQL ready at $PG_HOST:$PG_PORT (role $PG_ROLE)"

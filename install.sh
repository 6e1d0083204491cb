#!/usr/bin/env bash
# One-command set-up: installs everything into .venv in the repository root, then starts the
# server with its embedded defaults.
#
#   ./install.sh                 install (if needed), then `characters serve`
#   ./install.sh --port 9000     extra arguments go to `characters serve`
#   ./install.sh --no-serve      install only
#
# Idempotent: pip runs again only when pyproject.toml or requirements.lock changed since the
# last successful install (their hash is kept in .venv/.install-stamp). PYTHON=/path/to/python3.11
# picks the interpreter.
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
export DEBIAN_FRONTEND=noninteractive PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1

say() { printf '==> %s\n' "$*"; }
die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 1; }

serve=1
args=()
for arg in "$@"; do
  if [[ $arg == --no-serve ]]; then serve=0; else args+=("$arg"); fi
done

VENV=.venv
STAMP=$VENV/.install-stamp
LOG=$VENV/install.log

# pip on some machines prints these for configured-but-absent local indexes; they are harmless.
quiet_pip() { grep -v -E "^WARNING: Location '.*' is ignored" || true; }

# apt_install PKG...: install the Debian packages that are missing (apt-get update only if needed).
apt_install() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  command -v apt-get >/dev/null || die "missing packages ${missing[*]} and no apt-get to install them"
  local sudo=()
  if ((EUID != 0)); then
    sudo -n true 2>/dev/null || die "need root (or passwordless sudo) to apt-get install ${missing[*]}"
    sudo=(sudo -n)
  fi
  say "apt-get install ${missing[*]}"
  local apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Use-Pty=0)
  if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null ||
    ! "${apt[@]}" install --no-install-recommends "${missing[@]}" >/tmp/apt-install.log 2>&1; then
    "${apt[@]}" update >/tmp/apt-update.log 2>&1 || { tail -n 20 /tmp/apt-update.log >&2; die "apt-get update failed"; }
    "${apt[@]}" install --no-install-recommends "${missing[@]}" >/tmp/apt-install.log 2>&1 ||
      { tail -n 20 /tmp/apt-install.log >&2; die "apt-get install ${missing[*]} failed"; }
  fi
}

is_py311() { [[ -x $1 || -n $(command -v "$1" 2>/dev/null) ]] &&
  "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; }
# A usable .venv: Python 3.11, and made here (a moved checkout leaves scripts with stale #! lines).
venv_ok() { is_py311 "$VENV/bin/python" && [[ $(head -n 1 "$VENV/bin/pip" 2>/dev/null) == "#!$PWD/$VENV/bin/"* ]]; }

# 1. Python 3.11 and a virtualenv (an existing .venv of another Python, a broken one or one
# made in another folder is replaced, but only when it is this user's own).
if [[ -e $VENV || -L $VENV ]] && ! venv_ok; then
  [[ -O $VENV && -w $VENV ]] ||
    die "$PWD/$VENV exists but its Python 3.11 cannot be run by $(id -un); run as its owner or remove it"
  say "replacing $VENV (not a working Python 3.11 virtualenv made in $PWD)"
fi
if ! venv_ok; then
  py=""
  for cand in ${PYTHON:-} python3.11 python3 /usr/bin/python3.11; do
    if is_py311 "$cand"; then py=$cand; break; fi
  done
  [[ -n $py ]] || die "Python 3.11 is required but was not found (tried ${PYTHON:+$PYTHON, }python3.11, python3); install it (Debian 12: apt-get install python3) or set PYTHON=/path/to/python3.11"
  say "creating $VENV with $("$py" -c 'import sys; print(sys.executable, sys.version.split()[0])')"
  rm -rf "$VENV"
  if ! "$py" -m venv "$VENV" >/dev/null 2>&1; then
    # Debian ships venv/ensurepip separately.
    rm -rf "$VENV"
    apt_install python3.11-venv
    "$py" -m venv "$VENV" || die "could not create $VENV with $py"
  fi
  "$VENV/bin/python" -m pip install -q --upgrade pip 2>&1 | quiet_pip ||
    say "warning: could not upgrade pip in $VENV; going on with $("$VENV/bin/python" -m pip --version | cut -d' ' -f1-2)"
fi

# 2. The package with its test extra, only when its inputs changed.
MEDIAPIPE=mediapipe==0.10.21
inputs=(pyproject.toml)
constraints=()
if [[ -f requirements.lock ]]; then inputs+=(requirements.lock); constraints=(-c requirements.lock); fi
stamp=$({ cat "${inputs[@]}"; echo "$MEDIAPIPE"; } | sha256sum | cut -d' ' -f1)
stamp="$stamp $("$VENV/bin/python" -c 'import sys; print(sys.version.split()[0])')"
if [[ -f $STAMP && $(cat "$STAMP") == "$stamp" && -x $VENV/bin/characters ]]; then
  say "dependencies up to date (pyproject.toml unchanged)"
else
  say "pip install -e '.[test]' (log: $LOG)"
  rm -f "$STAMP"
  if ! "$VENV/bin/python" -m pip install --no-input "${constraints[@]}" -e '.[test]' >"$LOG" 2>&1; then
    quiet_pip <"$LOG" | tail -n 30 >&2
    die "pip install failed; full log in $LOG"
  fi
  # mediapipe 0.10.21 is the last release with the offline face mesh (solutions.face_mesh and its
  # bundled .tflite files); its declared dependencies (numpy<2, GUI OpenCV, jax) are not needed.
  say "pip install --no-deps $MEDIAPIPE"
  if ! "$VENV/bin/python" -m pip install --no-input --no-deps "$MEDIAPIPE" >>"$LOG" 2>&1; then
    quiet_pip <"$LOG" | tail -n 30 >&2
    die "pip install $MEDIAPIPE failed; full log in $LOG"
  fi
  echo "$stamp" >"$STAMP"
fi
say "ready: $("$VENV/bin/characters" --version) in $PWD/$VENV"

# 3. Serve.
if ((serve)); then
  say "starting: characters serve ${args[*]:-}"
  exec "$VENV/bin/characters" serve "${args[@]}"
fi

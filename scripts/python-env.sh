#!/usr/bin/env bash
# Create or refresh the Python venv that the test oracles (and the peer benchmark) use.
#
# usage: scripts/python-env.sh [-v] [--print-python] [--requirements FILE] [--venv DIR]
#        source scripts/python-env.sh [-v] --   (prints the python path, exports KFP_RS_PYTHON;
#                                                 the `--` keeps a sourcing script's own "$@" out)
#
# Defaults: requirements tests/oracle/requirements.txt, venv ${KFP_RS_VENV:-$HOME/.cache/kfp-rs/venv}
# (kept outside the repo). The venv is (re)built when it is missing, broken, made by another base
# Python, or when the requirements file changed since the last install; a stamp file inside the
# venv (.kfp-rs-stamp) holds the hash of the requirements file and the base Python's version.
# A changed requirements file rebuilds the venv from scratch, so that nothing stale stays in it.
# Quiet unless -v: only errors are printed (pip's log is shown when an install fails).
# Base interpreter: $KFP_RS_BASE_PYTHON, default python3 (3.10 or newer; hera 7 needs it).

_kfp_rs_python_env() (
    set -euo pipefail
    local here repo verbose=0 print_python=0 requirements venv base_python
    here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
    repo="$(dirname "$here")"
    requirements="$repo/tests/oracle/requirements.txt"
    venv="${KFP_RS_VENV:-$HOME/.cache/kfp-rs/venv}"
    base_python="${KFP_RS_BASE_PYTHON:-python3}"
    print_python="${_KFP_RS_SOURCED:-0}"

    while (($#)); do
        case "$1" in
            -v | --verbose) verbose=1 ;;
            --print-python) print_python=1 ;;
            --requirements) requirements="$2"; shift ;;
            --requirements=*) requirements="${1#*=}" ;;
            --venv) venv="$2"; shift ;;
            --venv=*) venv="${1#*=}" ;;
            --) break ;;
            -h | --help) sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; return 0 ;;
            *) echo "python-env.sh: unknown argument: $1" >&2; return 2 ;;
        esac
        shift
    done

    log() { if ((verbose)); then echo "python-env: $*" >&2; fi; }
    die() { echo "python-env.sh: error: $*" >&2; exit 1; } # exits this function's subshell only

    [[ -f "$requirements" ]] || die "no requirements file at $requirements"
    requirements="$(cd "$(dirname "$requirements")" && pwd)/$(basename "$requirements")"
    command -v "$base_python" >/dev/null 2>&1 || die "no '$base_python' on PATH (install python3 3.10+, or set KFP_RS_BASE_PYTHON)"
    "$base_python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
        die "$base_python is $("$base_python" -V 2>&1); Python 3.10 or newer is needed"

    local want_stamp req_hash
    req_hash="$(sha256sum "$requirements" | cut -d' ' -f1)"
    want_stamp="requirements-sha256=$req_hash python=$("$base_python" -c 'import sys, platform; print(platform.python_version(), sys.base_prefix)')"
    local stamp="$venv/.kfp-rs-stamp" py="$venv/bin/python"

    # Serialise concurrent runs on the same venv (e.g. two test processes starting at once).
    mkdir -p "$(dirname "$venv")"
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$venv.lock"
        flock 9
    fi

    if [[ -x "$py" && -f "$stamp" && "$(cat "$stamp")" == "$want_stamp" ]] && "$py" -c '' 2>/dev/null; then
        log "venv $venv is up to date"
    else
        if ! "$base_python" -c 'import venv, ensurepip' 2>/dev/null; then
            die "$base_python lacks the venv/ensurepip modules; on Debian/Ubuntu: apt-get install python3-venv (or python3.X-venv for your version)"
        fi
        log "building venv $venv from $requirements"
        rm -rf "$venv"
        local out
        out="$(mktemp)"
        if ! { "$base_python" -m venv "$venv" &&
            PIP_DISABLE_PIP_VERSION_CHECK=1 "$py" -m pip install --no-input --progress-bar off \
                -r "$requirements"; } >"$out" 2>&1; then
            tail -n 40 "$out" >&2
            rm -f "$out"
            rm -rf "$venv" # leave no half-built venv that looks usable
            die "could not build the venv at $venv (log above)"
        fi
        if ((verbose)); then cat "$out" >&2; fi
        rm -f "$out"
        echo "$want_stamp" >"$stamp"
        log "venv ready: $py"
    fi
    if ((print_python)); then echo "$py"; fi
)

if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
    # Sourced: build if needed, print the interpreter and export it as KFP_RS_PYTHON.
    if KFP_RS_PYTHON="$(_KFP_RS_SOURCED=1 _kfp_rs_python_env "$@")"; then
        export KFP_RS_PYTHON
        echo "$KFP_RS_PYTHON"
        unset -f _kfp_rs_python_env
    else
        unset -f _kfp_rs_python_env
        return 1
    fi
else
    _kfp_rs_python_env "$@"
fi

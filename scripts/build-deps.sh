#!/usr/bin/env bash
# Installs the build tools the Rust build needs beyond a Rust toolchain and a C compiler:
#   nasm: assembles libjpeg-turbo's SIMD code for kfp-components' JPEG decoder (the `simd`
#         feature, on by default; without nasm the build of mozjpeg-sys fails).
# Uses apt-get (as root, or through sudo) when a tool is missing; does nothing otherwise.
#
# usage: scripts/build-deps.sh
set -euo pipefail
missing=()
command -v nasm >/dev/null 2>&1 || missing+=(nasm)
((${#missing[@]})) || exit 0
echo "build-deps: installing ${missing[*]} (apt-get)" >&2
if [[ "$(id -u)" -eq 0 ]]; then
    sudo=()
elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
else
    echo "build-deps: need ${missing[*]}: install with your package manager (not root, no sudo)" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "build-deps: need ${missing[*]}: no apt-get here, install them with your package manager" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 ||
    { "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq "${missing[@]}"; }
command -v nasm >/dev/null 2>&1 || { echo "build-deps: nasm is still missing" >&2; exit 1; }

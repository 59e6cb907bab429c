#!/usr/bin/env bash
# Installs the system packages the build and the tests need, when missing.
# Debian/Ubuntu; needs root (or sudo) only when something is missing.
set -euo pipefail

needed=()
command -v cc >/dev/null 2>&1 || needed+=(gcc)
command -v g++ >/dev/null 2>&1 || needed+=(g++)
command -v make >/dev/null 2>&1 || needed+=(make)
command -v valgrind >/dev/null 2>&1 || needed+=(valgrind)
command -v pkg-config >/dev/null 2>&1 || needed+=(pkg-config)
command -v cmake >/dev/null 2>&1 || needed+=(cmake)   # tests/install.rs: the README's CMake project
command -v go >/dev/null 2>&1 || needed+=(golang-go)  # tests/bindings.rs: the Go package (go/), go test -race
# The Python package's tests build it and install it into fresh virtual
# environments (python3 -m venv, which bootstraps pip with ensurepip: Debian
# ships that in python3-venv). pip fetches the build tools and pytest/mypy.
if ! command -v python3 >/dev/null 2>&1; then
    needed+=(python3 python3-venv)
elif ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    needed+=(python3-venv)
fi
for extra in "$@"; do
    case "$extra" in
        glib) pkg-config --exists glib-2.0 2>/dev/null || needed+=(libglib2.0-dev) ;;
        *) echo "install-deps: unknown extra '$extra'" >&2; exit 2 ;;
    esac
done

if [ ${#needed[@]} -eq 0 ]; then
    exit 0
fi
echo "install-deps: installing ${needed[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "install-deps: run as root, or install: ${needed[*]}" >&2; exit 1; }
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${needed[@]}"

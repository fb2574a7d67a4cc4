#!/bin/sh
# Install what Strata needs to build and test on Debian 12 (run as root). Idempotent: when every
# package is already installed apt is not touched at all (fast, works offline).
# --bench also installs node/npm if missing and onnxruntime-node into bench/peers/node_modules;
# --models also installs Debian's torch, torchvision and scikit-learn (to remake the models).
# usage: scripts/install-deps.sh [--bench] [--models]
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ORT_VERSION=1.30.0
BENCH=0
MODELS=0
for arg in "$@"; do
    case $arg in
        --bench) BENCH=1 ;;
        --models) MODELS=1 ;;
        -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
        *) echo "install-deps: unknown argument '$arg' (usage: $0 [--bench] [--models])" >&2; exit 2 ;;
    esac
done

# build: compiler, make, cJSON, protobuf-c;  tests: bash, /usr/bin/time, onnx's checker, numpy
PKGS="build-essential pkg-config libcjson-dev libprotobuf-c-dev protobuf-c-compiler time
python3 python3-numpy python3-onnx libmicrohttpd-dev python3-requests libgrpc-dev python3-grpcio python3-grpc-tools prometheus
libdnnl-dev"
# models (--models): Debian's torch, torchvision (bench models), scikit-learn (digits data)
[ "$MODELS" = 1 ] && PKGS="$PKGS python3-torch python3-torchvision python3-sklearn"

is_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

MISSING=
for p in $PKGS; do
    is_installed "$p" || MISSING="$MISSING $p"
done
if [ "$BENCH" = 1 ]; then
    # node may come from elsewhere (e.g. NodeSource's nodejs bundles npm): check the commands
    command -v node >/dev/null 2>&1 || MISSING="$MISSING nodejs"
    command -v npm >/dev/null 2>&1 || MISSING="$MISSING npm"
    is_installed ca-certificates || MISSING="$MISSING ca-certificates"
fi

if [ -n "$MISSING" ]; then
    SUDO=
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null 2>&1 || {
            echo "install-deps: need root to install:$MISSING" >&2; exit 1; }
        SUDO=sudo
    fi
    echo "install-deps: missing:$MISSING"
    echo "install-deps: apt-get update"
    $SUDO apt-get update
    echo "install-deps: apt-get install -y --no-install-recommends$MISSING"
    # shellcheck disable=SC2086  # word splitting of the package list is intended
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends $MISSING
else
    echo "install-deps: all Debian packages already installed, apt skipped"
fi

if [ "$BENCH" = 1 ]; then
    PEERS="$ROOT/bench/peers"
    have=$(node -p "require('$PEERS/node_modules/onnxruntime-node/package.json').version" \
           2>/dev/null || true)
    if [ "$have" = "$ORT_VERSION" ]; then
        echo "install-deps: onnxruntime-node $ORT_VERSION already in $PEERS/node_modules"
    else
        echo "install-deps: (cd $PEERS && npm install --ignore-scripts --save-exact onnxruntime-node@$ORT_VERSION)"
        (cd "$PEERS" && npm install --ignore-scripts --save-exact --no-audit --no-fund \
            "onnxruntime-node@$ORT_VERSION")
    fi
    node "$PEERS/ort_load.js" --require-only >/dev/null ||
        { echo "install-deps: onnxruntime-node does not load" >&2; exit 1; }
    echo "install-deps: onnxruntime-node $ORT_VERSION loads (node $(node --version))"
fi
echo "install-deps: done"

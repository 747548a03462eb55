#!/usr/bin/env bash
# Install everything the tests need on a fresh machine, then run the whole test suite.
# A skipped test fails the run (--fail-on-skip): every test must run here, the browser test included.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet torch==2.13.0
CMAKE_ARGS="-DGGML_NATIVE=OFF" python -m pip install --quiet ".[dev]"
if ! command -v chromium >/dev/null 2>&1; then
    if ! (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null); then
        echo "error: Debian's chromium could not be installed (apt-get install chromium); the browser test needs it" >&2
        exit 1
    fi
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
python -m pytest --fail-on-skip "$@"

#!/usr/bin/env bash
# Install ragmed with the Gemma generator on a fresh machine and ask the starter knowledge a question.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet torch==2.13.0
CMAKE_ARGS="-DGGML_NATIVE=OFF" python -m pip install --quiet ".[llm]"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
ragmed ask "${1:-What are the symptoms of type 2 diabetes?}" --generator llamacpp "${@:2}"

#!/usr/bin/env bash
# Regenerates libs/proto/src/generated from proto/ (the only source of truth). Never edit the output.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf libs/proto/src/generated
node_modules/.bin/buf lint
node_modules/.bin/buf generate

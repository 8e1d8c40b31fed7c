#!/usr/bin/env bash
# The README quick start: installs what is missing (pnpm, redis-server, nats-server, packages),
# builds, then starts the whole stack and runs one demo Generate. Stays up until Ctrl-C; extra
# flags go to `kvtier up` (e.g. --exit-after-demo, --decode 2, --demo "another prompt").
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/test.sh --setup-only
# Same as `pnpm kvtier up ...`, minus pnpm in between: pnpm does not pass SIGTERM on to the
# script it runs, which would leave the stack running when CI's timeout stops this script.
exec node tools/cli/dist/main.js up --demo "Once upon a time" "$@"

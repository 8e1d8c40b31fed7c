#!/usr/bin/env bash
# The project's test command (`bash scripts/test.sh`), usable on a fresh machine: installs what is
# missing (pnpm, redis-server, nats-server), the packages, builds, type-checks every package's
# sources, benches and tests (`pnpm typecheck`; the build compiles src/ only and vitest strips
# types), lints, checks the formatting (prettier, `pnpm format:check`) and the layering
# (dependency-cruiser, `pnpm depcheck`), runs every vitest test, and ends with the plain line
# "N passed, N failed" (from vitest's JSON report; a failed type check, lint, format or layering
# check counts as 1 failed).
# Tests use REDIS_URL / NATS_URL when set; otherwise they start their own servers (local-stack).
#   --setup-only   stop after the build (scripts/quickstart.sh uses this)
set -uo pipefail
cd "$(dirname "$0")/.."

SETUP_ONLY=false
if [ "${1:-}" = "--setup-only" ]; then SETUP_ONLY=true; fi
PNPM_MAJOR=10
SERVER_PACKAGES=(redis-server nats-server) # Debian package name = binary name

# A failure before the tests ran: say why, then (as the test command) the closing line.
fail_setup() {
  echo "error: $*" >&2
  if [ "$SETUP_ONLY" = false ]; then echo "0 passed, 1 failed"; fi
  exit 1
}

# Debian puts nats-server in /usr/sbin, which a non-root PATH may lack.
have_binary() {
  command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/local/sbin/$1" ]
}

if ! command -v pnpm >/dev/null 2>&1; then
  echo "== installing pnpm@$PNPM_MAJOR (npm i -g)"
  npm i -g "pnpm@$PNPM_MAJOR" || fail_setup "could not install pnpm: run npm i -g pnpm@$PNPM_MAJOR"
fi

missing=()
for pkg in "${SERVER_PACKAGES[@]}"; do
  have_binary "$pkg" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "== installing ${missing[*]} (apt-get)"
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"; } ||
      fail_setup "could not install ${missing[*]}: run apt-get install -y ${missing[*]}"
  else
    fail_setup "${missing[*]} not installed: run sudo apt-get install -y ${missing[*]}"
  fi
fi

echo "== pnpm install"
pnpm install --frozen-lockfile --config.confirm-modules-purge=false </dev/null || fail_setup "pnpm install failed"
echo "== pnpm build"
pnpm build || fail_setup "build failed"
if [ "$SETUP_ONLY" = true ]; then exit 0; fi

echo "== pnpm typecheck"
typecheck_ok=true
pnpm typecheck || typecheck_ok=false

echo "== pnpm lint"
lint_ok=true
pnpm lint || lint_ok=false

echo "== pnpm format:check"
format_ok=true
pnpm format:check || format_ok=false

echo "== pnpm depcheck"
depcheck_ok=true
pnpm depcheck || depcheck_ok=false

echo "== vitest"
report=$(mktemp -t kvtier-vitest-XXXXXX.json)
rm -f "$report"
pnpm exec vitest run --reporter=default --reporter=json --outputFile.json="$report" </dev/null
vitest_status=$?

read -r passed failed < <(node -e '
  const fs = require("node:fs");
  try {
    const r = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
    console.log(r.numPassedTests ?? 0, r.numFailedTests ?? 0);
  } catch {
    console.log("missing missing");
  }' "$report")
rm -f "$report"
if [ "$passed" = missing ]; then
  echo "vitest wrote no JSON report (exit $vitest_status): counted as failed"
  passed=0 failed=1
elif [ "$vitest_status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  echo "vitest failed (exit $vitest_status) outside any test (e.g. a test file that does not load): counted as 1 failed"
  failed=1
fi
if [ "$typecheck_ok" = false ]; then
  echo "type check failed (see above): counted as 1 failed"
  failed=$((failed + 1))
fi
if [ "$lint_ok" = false ]; then
  echo "lint failed (see above): counted as 1 failed"
  failed=$((failed + 1))
fi
if [ "$format_ok" = false ]; then
  echo "format check failed (see above; \`pnpm format\` rewrites the files): counted as 1 failed"
  failed=$((failed + 1))
fi
if [ "$depcheck_ok" = false ]; then
  echo "depcheck (layering) failed (see above): counted as 1 failed"
  failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
if [ "$failed" -ne 0 ] || [ "$vitest_status" -ne 0 ] || [ "$typecheck_ok" = false ] || [ "$lint_ok" = false ] || [ "$format_ok" = false ] || [ "$depcheck_ok" = false ]; then exit 1; fi
exit 0

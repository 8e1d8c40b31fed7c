#!/usr/bin/env bash
# Writes this deployment's service token to deploy/k8s/secrets/service-token.env (git-ignored),
# which the kustomization turns into the Secret `kvtier-service-token`. Run once before
# `kubectl apply -k deploy/k8s`; an existing file is kept, so re-running never rotates the token
# under running services (delete the file and re-apply to rotate, then restart every pod).
set -euo pipefail
dir="$(cd "$(dirname "$0")" && pwd)/secrets"
file="$dir/service-token.env"
if [ -s "$file" ]; then
  echo "$file exists: keeping it"
  exit 0
fi
mkdir -p "$dir"
umask 077
# 32 random bytes, base64url without padding: 43 characters
token=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
printf 'KVTIER_SERVICE_TOKEN=%s\n' "$token" >"$file"
echo "wrote $file"

#!/usr/bin/env bash
# Prints the provider's semver version for builds and `make install`: X.Y.Z
# (or X.Y.Z-pre) when HEAD is exactly a clean vX.Y.Z tag, else 0.0.0-dev.
# Terraform and OpenTofu need a semver version in the plugin directory; a
# prerelease such as 0.0.0-dev is only chosen by an exact constraint or by
# none (see docs/guides/use-in-your-configuration.md).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
desc=$(git -C "$root" describe --tags --exact-match --match 'v[0-9]*' --dirty 2>/dev/null || true)
semver='^v([0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?)$'
if [[ "$desc" != *-dirty && "$desc" =~ $semver ]]; then
  echo "${BASH_REMATCH[1]}"
else
  echo 0.0.0-dev
fi

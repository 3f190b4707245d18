#!/usr/bin/env bash
# A dry run of the release (docs/dev/RELEASING.md): goreleaser --snapshot with
# .goreleaser.yml restricted to linux/amd64, signed with a throwaway RSA key
# (the kind the Terraform Registry accepts) made in a scratch GNUPGHOME.
# Checks what the registries need: the zip holds
# terraform-provider-virtumancer_vVERSION, SHA256SUMS lists the zips and the
# manifest and nothing else, SHA256SUMS.sig verifies (goreleaser 2.15.1 broke
# it by adding the .sig to SHA256SUMS after signing: caught here), the sync
# tarballs' signatures verify, and without GPG_FINGERPRINT the release fails
# instead of shipping unsigned checksums. Writes only under a temp dir.
set -euo pipefail
fail() { echo "scripts/release-check.sh: $*" >&2; exit 1; }
root=$(cd "$(dirname "$0")/.." && pwd)
for tool in gpg unzip; do
  command -v "$tool" >/dev/null || fail "$tool is missing: apt-get install $tool (scripts/testenv.sh installs it)"
done
cd "$root"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export GNUPGHOME="$scratch/gnupg"
mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key "release check <release-check@invalid>" rsa3072 sign 1d 2>/dev/null
fpr=$(gpg --list-keys --with-colons 2>/dev/null | awk -F: '$1=="fpr" {print $10; exit}')
[ -n "$fpr" ] || fail "could not make a throwaway GPG key"

# One platform keeps it short; everything else is the real configuration.
cfg="$scratch/goreleaser.yml"
{ echo "dist: $scratch/dist"; sed -e 's/goos: \[.*\]/goos: [linux]/' -e 's/goarch: \[.*\]/goarch: [amd64]/' .goreleaser.yml; } >"$cfg"
release() { go tool -modfile=tools/lint/go.mod goreleaser release --snapshot --clean --skip=before -p 1 -f "$cfg"; }

if (unset GPG_FINGERPRINT; release) >"$scratch/unsigned.log" 2>&1; then
  fail "the release succeeded without GPG_FINGERPRINT: it must refuse to ship unsigned checksums"
fi
grep -q 'GPG_FINGERPRINT' "$scratch/unsigned.log" || { tail -20 "$scratch/unsigned.log" >&2; fail "the release without a key failed for another reason"; }
echo "ok: without GPG_FINGERPRINT the release stops ($(grep -o 'map has no entry for key "GPG_FINGERPRINT"' "$scratch/unsigned.log" | head -1))"

GPG_FINGERPRINT=$fpr release >"$scratch/signed.log" 2>&1 || { tail -30 "$scratch/signed.log" >&2; fail "the signed snapshot release failed"; }
dist="$scratch/dist"
sums=$(ls "$dist"/*_SHA256SUMS)
[ -f "$sums.sig" ] || fail "no $sums.sig"
gpg --batch --quiet --verify "$sums.sig" "$sums" 2>/dev/null || fail "$sums.sig does not verify"
zip=$(ls "$dist"/terraform-provider-virtumancer_*_linux_amd64.zip)
version=$(basename "$zip" | sed 's/^terraform-provider-virtumancer_//; s/_linux_amd64.zip$//')
unzip -l "$zip" | grep -q " terraform-provider-virtumancer_v$version\$" || { unzip -l "$zip"; fail "$zip lacks terraform-provider-virtumancer_v$version"; }
grep -q " $(basename "$zip")\$" "$sums" || fail "$sums does not list $(basename "$zip")"
# The manifest is uploaded from the tree at publish time (a snapshot does not copy it).
manifest="terraform-provider-virtumancer_${version}_manifest.json"
grep -qx "$(sha256sum terraform-registry-manifest.json | cut -d' ' -f1)  $manifest" "$sums" ||
  fail "$sums does not list $manifest with the checksum of terraform-registry-manifest.json"
others=$(grep -v -e '_[a-z0-9]*_[a-z0-9]*\.zip$' -e " $manifest\$" "$sums" || true)
[ -z "$others" ] || fail "$sums lists files the registry is not given: $others"
(cd "$dist" && sha256sum --quiet -c --ignore-missing "$sums") || fail "a checksum in $sums is wrong"
for tgz in "$dist"/virtumancer-sync_*.tar.gz; do
  gpg --batch --quiet --verify "$tgz.sig" "$tgz" 2>/dev/null || fail "$(basename "$tgz").sig is missing or does not verify"
done
echo "ok: snapshot $version: $(basename "$zip") holds terraform-provider-virtumancer_v$version; $(basename "$sums") lists only the zips and the manifest, and its signature verifies; the sync tarballs' signatures verify"

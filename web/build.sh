#!/usr/bin/env bash
# Vendor the console's third-party browser libraries (today: Leaflet) from npm into
# src/tocsin/console/static/vendor/, so the console serves them itself: no CDN, works
# offline, and the Content-Security-Policy can stay at script-src 'self'.
#
# Idempotent and fast when nothing changed: the installed copy carries a stamp holding
# the hash of web/package-lock.json, and a matching stamp skips npm entirely.
# Never fails the build for want of npm or the registry: it warns and exits 0, and the
# console's map falls back to its own coordinate canvas without Leaflet.
#
# Usage: web/build.sh [--force]
set -euo pipefail

WEB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$WEB")"
VENDOR="$ROOT/src/tocsin/console/static/vendor"
DEST="$VENDOR/leaflet"
STAMP="$VENDOR/.stamp"
LOCK="$WEB/package-lock.json"

warn() {
  echo "web/build.sh: WARNING: $*" >&2
  echo "web/build.sh: the console map will use its offline coordinate canvas instead of Leaflet." >&2
}

lock_hash() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$LOCK" | cut -d' ' -f1
  else
    cksum "$LOCK" | cut -d' ' -f1,2
  fi
}

want="$(lock_hash)"
if [[ "${1:-}" != "--force" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" \
      && -f "$DEST/leaflet.js" && -f "$DEST/leaflet.css" && -d "$DEST/images" ]]; then
  exit 0  # already built from this lockfile
fi

if ! command -v npm >/dev/null 2>&1; then
  warn "npm is not installed, so Leaflet cannot be fetched."
  exit 0
fi

echo "web/build.sh: installing web/ dependencies (npm ci)"
if ! (cd "$WEB" && npm ci --no-audit --no-fund --loglevel=error); then
  warn "'npm ci' failed (is the npm registry reachable?)."
  exit 0
fi

SRC="$WEB/node_modules/leaflet/dist"
if [[ ! -f "$SRC/leaflet.js" || ! -f "$SRC/leaflet.css" || ! -d "$SRC/images" ]]; then
  warn "node_modules/leaflet/dist lacks leaflet.js, leaflet.css or images/."
  exit 0
fi

# Assemble beside the destination, then swap it in, so a server running meanwhile never
# serves half a copy.
mkdir -p "$VENDOR"
TMP="$(mktemp -d "$VENDOR/.leaflet.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
cp "$SRC/leaflet.js" "$SRC/leaflet.css" "$TMP/"
cp -R "$SRC/images" "$TMP/images"
cp "$WEB/node_modules/leaflet/LICENSE" "$TMP/LICENSE"  # BSD-2-Clause asks for the notice to travel
chmod 755 "$TMP"
rm -rf "$DEST.old"
[[ -d "$DEST" ]] && mv "$DEST" "$DEST.old"
mv "$TMP" "$DEST"
rm -rf "$DEST.old"
echo "$want" >"$STAMP"
version="$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$WEB/node_modules/leaflet/package.json" | head -1)"
echo "web/build.sh: Leaflet ${version:-?} copied to ${DEST#"$ROOT"/}"

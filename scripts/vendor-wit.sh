#!/usr/bin/env bash
# Re-copies the wasi:*@0.3.0 WIT that the pinned wasmtime-wasi crate implements
# into wit/deps/. Run it after changing the pinned wasmtime-wasi version; the
# host test `wit_deps_match_pinned_wasmtime_wasi` fails when the copy drifts.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
version=$(sed -n 's/^wasmtime-wasi = { version = "=\([0-9.]*\)".*/\1/p' Cargo.toml)
[ -n "$version" ] || { echo "vendor-wit: no pinned wasmtime-wasi version in Cargo.toml" >&2; exit 1; }
cargo fetch --quiet
src=$(cargo metadata --format-version 1 \
  | python3 -c "import json,sys; d=json.load(sys.stdin); print(next(p['manifest_path'] for p in d['packages'] if p['name']=='wasmtime-wasi' and p['version']=='$version'))")
src=$(dirname "$src")/src/p3/wit/deps
rm -rf wit/deps
mkdir -p wit/deps
cp "$src"/*.wit wit/deps/
echo "vendor-wit: copied $(ls wit/deps | wc -l) files from wasmtime-wasi $version"

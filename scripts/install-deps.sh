#!/usr/bin/env bash
# Installs the Debian 12 packages Pliant builds and tests with, only those
# that are missing (so it is instant on a machine that has them).
set -euo pipefail
pkgs=(make gcc clang llvm libelf-dev libbpf-dev zlib1g-dev binutils
      libsqlite3-dev libssl-dev libpq-dev postgresql-client
      postgresql-15   # postgresql-15: Debian 12 ships pgbench there, not in the client package
      # the Manager: admin API (HTTP server), JSON, Ed25519 and SHA-256, pliantctl's HTTP client
      libmicrohttpd-dev libjansson-dev libsodium-dev libcurl4-openssl-dev)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    sudo=
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    echo "installing: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

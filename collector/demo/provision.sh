#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Prepares a demo run folder for wim-collector with the 51-point registry:
#   collector/demo/provision.sh <run-dir>
# Copies collector.json and registry-51.json there, makes the PKI (pki/, scripts/make-ca.sh)
# with a client certificate per station, and an Ed25519 signing key per station
# (keys/<id>.key.pem, private, for the station; keys/<id>.pub.pem for the registry) unless
# one exists. The registry refers to pki/stations/<id>.sha256 and keys/<id>.pub.pem, so
# nothing needs editing. Idempotent. Then: wim-collector --config <run-dir>/collector.json
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
run="${1:?usage: $0 <run-dir>}"
mkdir -p "$run/keys"
cp -n "$here/collector.json" "$here/registry-51.json" "$run/"
ids=$(seq -f 'G%03g' 1 51)
# shellcheck disable=SC2086
"$here/../../scripts/make-ca.sh" "$run/pki" $ids
for id in $ids; do
  if [ ! -s "$run/keys/$id.pub.pem" ]; then
    (umask 077; openssl genpkey -algorithm ED25519 -out "$run/keys/$id.key.pem")
    openssl pkey -in "$run/keys/$id.key.pem" -pubout -out "$run/keys/$id.pub.pem"
  fi
done
echo "provisioned $run: 51 stations (pki/, keys/), start with: wim-collector --config $run/collector.json"

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A small deployment CA for the demo and the tests, with the openssl CLI only.
#   scripts/make-ca.sh <dir> [station-id ...]
# Creates (once; existing files are kept, so running it again is harmless):
#   <dir>/ca.key.pem, ca.cert.pem                CA (EC P-256, 10 years)
#   <dir>/collector.key.pem, collector.cert.pem  server cert for 127.0.0.1 / localhost
#   <dir>/stations/<id>.key.pem, <id>.cert.pem   client cert per station, CN=<id>
#   <dir>/stations/<id>.sha256                   SHA-256 fingerprint of the DER client
#                                                cert (lower-case hex): the registry's
#                                                "tls_cert_sha256"
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: $0 <dir> [station-id ...]" >&2
  exit 2
fi
dir="$1"; shift
mkdir -p "$dir/stations"
umask 077

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

if [ ! -s "$dir/ca.cert.pem" ]; then
  newkey "$dir/ca.key.pem"
  openssl req -x509 -new -key "$dir/ca.key.pem" -sha256 -days 3650 -subj "/CN=WIM demo CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$dir/ca.cert.pem"
fi

# sign <key> <cert> <subject> <extensions-file>
sign() {
  local csr
  csr=$(mktemp)
  openssl req -new -key "$1" -subj "$3" -out "$csr"
  openssl x509 -req -in "$csr" -CA "$dir/ca.cert.pem" -CAkey "$dir/ca.key.pem" -CAcreateserial \
    -days 825 -sha256 -extfile "$4" -out "$2" 2>/dev/null
  rm -f "$csr"
}

ext=$(mktemp)
trap 'rm -f "$ext"' EXIT
if [ ! -s "$dir/collector.cert.pem" ]; then
  newkey "$dir/collector.key.pem"
  printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=digitalSignature" \
    "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" >"$ext"
  sign "$dir/collector.key.pem" "$dir/collector.cert.pem" "/CN=wim-collector" "$ext"
fi

printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=digitalSignature" \
  "extendedKeyUsage=clientAuth" >"$ext"
for id in "$@"; do
  case "$id" in
    *[!A-Za-z0-9_-]*|"") echo "make-ca: bad station id '$id' (letters, digits, - and _ only)" >&2; exit 2 ;;
  esac
  key="$dir/stations/$id.key.pem"
  cert="$dir/stations/$id.cert.pem"
  if [ ! -s "$cert" ]; then
    newkey "$key"
    sign "$key" "$cert" "/CN=$id" "$ext"
  fi
  openssl x509 -in "$cert" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1 >"$dir/stations/$id.sha256"
done
chmod 0644 "$dir"/*.cert.pem "$dir"/stations/*.cert.pem "$dir"/stations/*.sha256 2>/dev/null || true

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The wim-collector .deb in a Debian 12 root (issue 19): install, check-config,
# backup-keygen, a running collector serving /metrics as user wim-collector, a signed
# backup, verify-backup and a restore on a fresh data folder as that user, station-cert
# add/retire/list, upgrade (operator's config kept), remove (data
# and config kept), purge (config gone, data, keys and user kept); then lintian.
#   scripts/test-collector-deb.sh [build-dir]        (root; WIM_DEB_ROOT_CACHE=tarball)
# Run by scripts/test.sh (exit 75: could not run, no package sources). The first run builds the root with mmdebstrap from the
# machine's Debian package sources (network) and apt installs the package's dependencies
# into it; measured figures in docs/notes/issue-19.md. The root is cached as a tarball
# (default /var/tmp/wim-bookworm-root.tar) and unpacked afresh for every run.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
cache="${WIM_DEB_ROOT_CACHE:-/var/tmp/wim-bookworm-root.tar}"
fail() { echo "test-collector-deb: FAIL: $*" >&2; exit 1; }
step() { echo "=== $*"; }
[ "$(id -u)" -eq 0 ] || { echo "test-collector-deb: NOT RUN: needs root (chroot, dpkg in the root)" >&2; exit 75; }
command -v mmdebstrap >/dev/null || fail "mmdebstrap missing (scripts/install-deps.sh)"

step "package"
cmake --build "$build" --target package-collector >/dev/null
deb=$(ls -t "$build"/package-collector/wim-collector_*.deb | head -1)
[ -f "$deb" ] || fail "no .deb in $build/package-collector"
echo "$deb"

if command -v lintian >/dev/null; then
  step "lintian"
  lintian --fail-on error,warning "$deb"
else
  echo "test-collector-deb: lintian not installed: skipped" >&2
fi

if [ ! -f "$cache" ]; then
  step "Debian 12 root (mmdebstrap, once: $cache)"
  mmdebstrap --variant=minbase --include=adduser,ca-certificates bookworm "$cache" || {
    rm -f "$cache"
    echo "test-collector-deb: NOT RUN: mmdebstrap could not build the Debian 12 root" \
      "(package sources unreachable?)" >&2
    exit 75
  }
fi
root=$(mktemp -d /var/tmp/wim-deb-root.XXXXXX)
cleanup() {
  if [ -n "${pid:-}" ]; then kill "$pid" 2>/dev/null || true; fi
  umount "$root/proc" 2>/dev/null || true
  rm -rf "$root"
}
trap cleanup EXIT
tar -C "$root" -xf "$cache"
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"
in_root() {
  chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"
}

step "install"
cp "$deb" "$root/tmp/wim-collector.deb"
in_root apt-get -qq update ||
  { echo "test-collector-deb: NOT RUN: apt-get update failed in the root" >&2; exit 75; }
in_root apt-get install -y -qq /tmp/wim-collector.deb >/dev/null
in_root getent passwd wim-collector >/dev/null || fail "no user wim-collector"
[ "$(in_root stat -c '%U:%G %a' /var/lib/wim-collector)" = "wim-collector:wim-collector 750" ] ||
  fail "/var/lib/wim-collector: $(in_root stat -c '%U:%G %a' /var/lib/wim-collector)"
[ "$(in_root stat -c '%U:%G %a' /etc/wim/collector.json)" = "root:wim-collector 640" ] ||
  fail "/etc/wim/collector.json: $(in_root stat -c '%U:%G %a' /etc/wim/collector.json)"
[ -f "$root/lib/systemd/system/wim-collector.service" ] || fail "no unit"
[ -L "$root/etc/systemd/system/multi-user.target.wants/wim-collector.service" ] ||
  fail "unit not enabled"
in_root man -w wim-collector >/dev/null 2>&1 || [ -f "$root/usr/share/man/man1/wim-collector.1.gz" ] ||
  fail "no man page"

step "check-config on the fresh install names the missing PKI"
set +e
out=$(in_root wim-collector check-config /etc/wim/collector.json 2>&1); rc=$?
set -e
echo "$out"
[ "$rc" = 1 ] || fail "check-config exit $rc, expected 1"
for f in cert key ca; do
  grep -q "/etc/wim/collector.json: /tls/$f: cannot read file /etc/wim/pki/" <<<"$out" ||
    fail "check-config does not name /tls/$f"
done

step "provision (make-ca.sh, one station) and run as wim-collector on loopback"
scripts/make-ca.sh "$root/etc/wim/pki" G001 >/dev/null
openssl genpkey -algorithm ed25519 | openssl pkey -pubout >"$root/etc/wim/pki/G001.pub.pem"
cat >"$root/etc/wim/registry.json" <<JSON
{"stations":[{"id":"G001","name":"test","location":{"lat":31.2,"lon":121.4},"lanes":2,
  "tls_cert_sha256_file":"pki/stations/G001.sha256","signing_key_file":"pki/G001.pub.pem"}]}
JSON
in_root chgrp -R wim-collector /etc/wim/pki && in_root chmod -R g+rX /etc/wim/pki
# the operator's own change of a conffile, which upgrades must keep
sed -i 's/"threads": 2/"threads": 3/' "$root/etc/wim/collector.json"
as_collector() { chroot --userspec=wim-collector:wim-collector "$root" /usr/bin/env -i \
  PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
as_collector wim-collector backup-keygen --config /etc/wim/collector.json || fail "backup-keygen"
[ "$(in_root stat -c '%U %a' /etc/wim/backup/backup.key.pem)" = "wim-collector 600" ] ||
  fail "backup key: $(in_root stat -c '%U %a' /etc/wim/backup/backup.key.pem)"
in_root wim-collector check-config /etc/wim/collector.json || fail "check-config after provisioning"
cat >"$root/tmp/probe.sh" <<'SH'
exec 3<>/dev/tcp/127.0.0.1/8080 || exit 1
printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3
cat <&3
SH
# Loopback only: a fresh network namespace (lo up), the daemon as user wim-collector.
root="$root" unshare -n bash -c '
  ip link set lo up
  chroot --userspec=wim-collector:wim-collector "$root" /usr/bin/wim-collector \
    --config /etc/wim/collector.json >"$root/tmp/collector.log" 2>&1 &
  p=$!
  for i in $(seq 50); do
    chroot "$root" /bin/bash /tmp/probe.sh >"$root/tmp/metrics.txt" 2>/dev/null && break
    sleep 0.2
  done
  kill -TERM $p; wait $p' || true
grep -q '^# HELP wim_station_clock_offset_seconds' "$root/tmp/metrics.txt" ||
  { cat "$root/tmp/collector.log"; fail "no /metrics from the installed collector"; }
[ -f "$root/var/lib/wim-collector/meta.db" ] || fail "no meta.db in /var/lib/wim-collector"
[ "$(in_root stat -c %U /var/lib/wim-collector/meta.db)" = wim-collector ] || fail "meta.db owner"

step "backup and verify-backup as wim-collector, with the package's backup key"
as_collector wim-collector backup --config /etc/wim/collector.json /tmp/bk || fail "backup"
[ -f "$root/tmp/bk/backup.json.sig" ] || fail "backup not signed"
out=$(as_collector wim-collector verify-backup --config /etc/wim/collector.json /tmp/bk) ||
  fail "verify-backup: $out"
grep -q "backup.json signature verified with backup key" <<<"$out" || fail "verify-backup: $out"

step "restore the backup on a fresh data folder, as wim-collector"
in_root install -d -o wim-collector -g wim-collector -m 0750 /var/lib/wim-restored
sed 's#"/var/lib/wim-collector"#"/var/lib/wim-restored/data"#' "$root/etc/wim/collector.json" \
  >"$root/etc/wim/collector-restored.json"
in_root chgrp wim-collector /etc/wim/collector-restored.json
in_root chmod 640 /etc/wim/collector-restored.json
out=$(as_collector wim-collector restore --config /etc/wim/collector-restored.json /tmp/bk 2>&1) ||
  fail "restore: $out"
[ -f "$root/var/lib/wim-restored/data/meta.db" ] || fail "restore: no meta.db: $out"
[ "$(in_root stat -c %U /var/lib/wim-restored/data/meta.db)" = wim-collector ] ||
  fail "restored meta.db owner"
in_root wim-collector check-config /etc/wim/collector-restored.json >/dev/null ||
  fail "check-config on the restored machine's config"
rm -f "$root/etc/wim/collector-restored.json"

step "station-cert: a second certificate accepted for G001, then the first retired"
old_fp=$(cat "$root/etc/wim/pki/stations/G001.sha256")
new_fp=$(printf 'e%.0s' $(seq 64))
in_root chgrp wim-collector /etc/wim/registry.json && in_root chmod 640 /etc/wim/registry.json
reg_mode=$(in_root stat -c '%U:%G %a' /etc/wim/registry.json)
in_root wim-collector station-cert add G001 --sha256 "$new_fp" --by deb-test \
  --config /etc/wim/collector.json >/dev/null || fail "station-cert add"
[ "$(in_root wim-collector station-cert list G001 --config /etc/wim/collector.json | wc -l)" = 2 ] ||
  fail "station-cert list after add"
in_root wim-collector station-cert retire G001 --sha256 "$old_fp" \
  --config /etc/wim/collector.json >/dev/null || fail "station-cert retire"
in_root wim-collector station-cert list G001 --config /etc/wim/collector.json | grep -q "$new_fp" ||
  fail "station-cert list after retire"
[ "$(wc -l <"$root/etc/wim/registry-changes.jsonl")" = 2 ] || fail "registry-changes.jsonl"
[ "$(in_root stat -c '%U:%G %a' /etc/wim/registry.json)" = "$reg_mode" ] ||
  fail "station-cert changed the registry's owner or mode: $(in_root stat -c '%U:%G %a' /etc/wim/registry.json)"
in_root wim-collector check-config /etc/wim/collector.json >/dev/null ||
  fail "check-config after station-cert"
set +e
in_root wim-collector station-cert add G001 --sha256 "12:ab" --config /etc/wim/collector.json \
  2>"$root/tmp/err"; rc=$?
set -e
[ "$rc" = 1 ] && grep -q "expected 64" "$root/tmp/err" || fail "bad fingerprint: exit $rc"

step "upgrade to a higher version (same files, version +1)"
work=$(mktemp -d)
dpkg-deb -R "$deb" "$work/pkg"
sed -i 's/^Version: \(.*\)$/Version: \1+upgradetest1/' "$work/pkg/DEBIAN/control"
dpkg-deb --root-owner-group -b "$work/pkg" "$root/tmp/wim-collector-next.deb" >/dev/null
rm -rf "$work"
in_root dpkg -i /tmp/wim-collector-next.deb >/dev/null
in_root dpkg-query -W -f='${Version}\n' wim-collector | grep -q upgradetest1 || fail "not upgraded"
grep -q '"threads": 3' "$root/etc/wim/collector.json" || fail "upgrade lost the operator's config"
[ -f "$root/var/lib/wim-collector/meta.db" ] || fail "upgrade lost meta.db"

step "remove: program gone; config, data and user stay"
in_root dpkg -r wim-collector >/dev/null
[ ! -e "$root/usr/bin/wim-collector" ] || fail "binary still there after remove"
grep -q '"threads": 3' "$root/etc/wim/collector.json" || fail "remove lost the config"
[ -f "$root/var/lib/wim-collector/meta.db" ] || fail "remove lost meta.db"

step "purge: config gone; data, PKI and user stay"
in_root dpkg -P wim-collector 2>&1 | sed 's/^/  /'
[ ! -e "$root/etc/wim/collector.json" ] || fail "collector.json still there after purge"
[ -f "$root/var/lib/wim-collector/meta.db" ] || fail "purge lost meta.db"
[ -f "$root/etc/wim/pki/collector.key.pem" ] || fail "purge lost the TLS key"
[ -f "$root/etc/wim/backup/backup.key.pem" ] || fail "purge lost the backup key"
in_root getent passwd wim-collector >/dev/null || fail "purge removed the user"
[ ! -e "$root/etc/systemd/system/multi-user.target.wants/wim-collector.service" ] ||
  fail "unit still enabled after purge"
echo "test-collector-deb: OK"

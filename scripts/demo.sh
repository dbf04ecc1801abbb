#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The demo: a central collector and 51 simulated roadside stations on this machine.
#
#   ./scripts/demo.sh            # runs DEMO_SECONDS (default 180), then stops everything
#   DEMO_SECONDS=0 ./scripts/demo.sh   # runs until Ctrl-C
#
# What happens:
#  1. builds wim-collector, wim-edge, wim-sim, wim-verify (build/);
#  2. provisions out/demo/: a demo CA, a TLS client certificate and an Ed25519 signing
#     key per station (collector/demo/provision.sh), the 51-point registry;
#  3. per station: a simulated traffic recording (wim-sim record, its own seed) and a
#     station.json (contract-2 channels from the simulator + keys, uplink, outbox,
#     acquisition = replay of that recording);
#  4. starts wim-collector and the 51 wim-edge daemons; each weighs its traffic, seals a
#     signed record per vehicle into its outbox and uploads over mutual TLS;
#  5. half-way, stops station G051 (as if its power failed) so its "silent" alert shows;
#  6. prints where to look: the operators' API, the alerts, /metrics.
# Safe to run again: keys, certificates and outboxes are kept; chains continue.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
run="${DEMO_DIR:-$root/out/demo}"
stations="${DEMO_STATIONS:-51}"
vehicles="${DEMO_VEHICLES:-12}"
seconds="${DEMO_SECONDS:-180}"
api="http://127.0.0.1:18080"

echo "=== build"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "${WIM_JOBS:-2}" --target wim-collector wim-edge wim-sim wim-verify

echo "=== provision $run"
mkdir -p "$run"
collector/demo/provision.sh "$run" >/dev/null
# The demo notices a silent station after 30 s rather than the production default.
sed -i 's/"silent_after_s": [0-9]*/"silent_after_s": 30/' "$run/collector.json"

ids=$(seq -f 'G%03g' 1 "$stations")
n=0
for id in $ids; do
  n=$((n + 1))
  dir="$run/stations/$id"
  mkdir -p "$dir"
  if [ ! -s "$dir/sim/rec.csv" ]; then
    build/hw/wim-sim record --seed "$n" --vehicles "$vehicles" --station "$id" \
      --overload-share 0.3 --out "$dir/sim" >/dev/null
  fi
  python3 - "$dir" "$run" "$id" <<'PY'
import json, sys, os
d, run, sid = sys.argv[1:4]
cfg = json.load(open(os.path.join(d, "sim", "station.json")))
cfg["station_id"] = sid
cfg["keys"] = {"signing_key": os.path.join(run, "keys", sid + ".key.pem")}
cfg["uplink"] = {"url": "https://127.0.0.1:18443",
                 "ca_file": os.path.join(run, "pki", "ca.cert.pem"),
                 "cert_file": os.path.join(run, "pki", "stations", sid + ".cert.pem"),
                 "key_file": os.path.join(run, "pki", "stations", sid + ".key.pem"),
                 "heartbeat_s": 10}
cfg["outbox"] = {"path": os.path.join(d, "outbox.db"), "quota_mb": 256}
cfg["acquisition"] = {"source": "replay", "recording": os.path.join(d, "sim", "rec.csv")}
# Plate camera (issue 7): the sim twin, driven by the recording's truth.jsonl (plates of
# the violations); field conditions drawn per pass; every 9th violation finds the stream
# down (a camera_fault record, the plate left to a human).
cfg["camera"] = {"kind": "sim", "condition": "mixed", "seed": sum(map(ord, sid)),
                 "lead_s": 0.15, "lag_s": 0.15, "max_frames": 3, "fail_every": 9}
cfg.setdefault("calibration", {})
cfg["calibration"].setdefault("id", "DEMO-" + sid + "-SIM")
json.dump(cfg, open(os.path.join(d, "station.json"), "w"), indent=1)
PY
done

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

echo "=== start wim-collector"
mkdir -p "$run/logs"
build/collector/wim-collector --config "$run/collector.json" >"$run/logs/collector.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do curl -fs "$api/v1/stations" >/dev/null 2>&1 && break; sleep 0.2; done

echo "=== start $stations stations"
declare -A station_pid
for id in $ids; do
  dir="$run/stations/$id"
  new=""
  [ -e "$dir/outbox.db" ] || new="--new-chain"
  build/edge/wim-edge run --config "$dir/station.json" $new >"$run/logs/$id.log" 2>&1 &
  pids+=($!)
  station_pid[$id]=$!
done

cat <<TXT

The demo is running. Look at:
  stations and their uplinks   curl -s $api/v1/stations | python3 -m json.tool
  one station                  curl -s $api/v1/stations/G001
  alerts                       curl -s $api/v1/alerts
  Prometheus metrics           curl -s $api/metrics
  logs                         $run/logs/
  collector data               $run/data/ (SQLite meta.db, blobs/)
Station G051 is stopped half-way; its "silent" alert appears 30 s later.
TXT

summary() {
  curl -fs "$api/v1/stations" | python3 -c '
import json, sys
d = json.load(sys.stdin)
st = d["stations"] if isinstance(d, dict) and "stations" in d else d
heard = [s for s in st if s.get("last_heartbeat_utc") or s.get("last_record_utc")]
recs = sum((s.get("chain") or {}).get("records", 0) for s in st)
print(f"  {len(heard)} of {len(st)} stations reporting, {recs} records stored")' || true
  curl -fs "$api/v1/alerts?active=1" | python3 -c '
import json, sys
d = json.load(sys.stdin)
al = d["alerts"] if isinstance(d, dict) and "alerts" in d else d
for a in al[:8]: print("  ALERT", a.get("station_id"), a.get("kind"), a.get("detail"), "since", a.get("start_utc"))
if len(al) > 8: print(f"  ... {len(al) - 8} more active alerts ({len(al)} in all)")' || true
}

start=$(date +%s)
stopped=0
while :; do
  sleep 10
  now=$(date +%s)
  echo "--- $(date -u +%H:%M:%SZ)"
  summary
  if [ "$stopped" = 0 ] && [ "$seconds" != 0 ] && [ $((now - start)) -ge $((seconds / 2)) ] &&
    [ -n "${station_pid[G051]:-}" ]; then
    echo "  stopping station G051 (power cut)"
    kill -9 "${station_pid[G051]}" 2>/dev/null || true
    stopped=1
  fi
  [ "$seconds" != 0 ] && [ $((now - start)) -ge "$seconds" ] && break
done
echo "=== demo over; data kept in $run"

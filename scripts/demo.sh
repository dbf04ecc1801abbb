#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The demo: a central collector and 51 simulated roadside stations on this machine.
#
#   ./scripts/demo.sh                   # runs DEMO_SECONDS (default 180), then stops everything
#   DEMO_SECONDS=0 ./scripts/demo.sh    # runs until Ctrl-C
#   DEMO_STATIONS=5 DEMO_SECONDS=60 ./scripts/demo.sh   # a short run with 5 stations
#
# What happens:
#  1. builds wim-collector, wim-edge, wim-sim, wim-verify (build/);
#  2. provisions out/demo/: a demo CA, a TLS client certificate and an Ed25519 signing
#     key per station (collector/demo/provision.sh), the 51-point registry;
#  3. per station: a simulated traffic recording with overloaded lorries (wim-sim record,
#     its own seed, starting today at the demo's start) and a station.json (contract-2 channels from the simulator + keys,
#     uplink, outbox, acquisition = paced replay of that recording (its vehicles spread
#     over the run), the sim plate camera);
#  4. starts wim-collector; stations G001..G050 in ONE process (`wim-edge run-many`: one
#     outbox, key, chain and uplink per station, one shared plate reader model) and the
#     last station (G051) as its own `wim-edge run`; each weighs its traffic, reads the
#     plates of violations, seals a signed record per vehicle and uploads over mutual TLS;
#  5. half-way, kill -9's G051 (as if its power failed) and waits for its "silent" alert;
#  6. prints the summary: stations reporting, records and cases stored, G051's alert, one
#     case's plate, and checks one spool tar with tar + openssl alone; then where to look;
#  7. the review workbench (issue 18): HTTPS on DEMO_WORKBENCH_PORT (default 18444), with
#     four logins made on the first run (`wim-collector add-user`, random passwords kept in
#     out/demo/workbench-logins.txt, mode 600): transport, police, supervisor, operator.
#     The address and the logins are printed at the start and at the end. When the demo
#     runs in a terminal, the stations stop at the end but the collector keeps serving the
#     workbench until Ctrl-C (DEMO_KEEP_COLLECTOR=0 stops it too; =1 keeps it without one).
# Safe to run again: keys, certificates, recordings and outboxes are kept; chains continue.
# Ports: DEMO_STATION_PORT (mTLS, default 18443), DEMO_API_PORT (operators, 18080) and
# DEMO_WORKBENCH_PORT (the workbench, HTTPS, 18444);
# the tests use ports the OS picks, so they do not clash.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
run="${DEMO_DIR:-$root/out/demo}"
stations="${DEMO_STATIONS:-51}"
vehicles="${DEMO_VEHICLES:-12}"
seconds="${DEMO_SECONDS:-180}"
station_port="${DEMO_STATION_PORT:-18443}"
api_port="${DEMO_API_PORT:-18080}"
workbench_port="${DEMO_WORKBENCH_PORT:-18444}"
workbench="https://127.0.0.1:$workbench_port/"
keep="${DEMO_KEEP_COLLECTOR:-auto}"
if [ "$keep" = auto ]; then if [ -t 0 ]; then keep=1; else keep=0; fi; fi
api="http://127.0.0.1:$api_port"
if ! [[ "$stations" =~ ^[0-9]+$ ]] || [ "$stations" -lt 2 ] || [ "$stations" -gt 51 ]; then
  echo "DEMO_STATIONS=$stations: must be 2..51 (the registry holds G001..G051)" >&2
  exit 2
fi

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$station_port" "$api_port" "$workbench_port"; do
  if port_busy "$p"; then
    echo "port $p on 127.0.0.1 is in use (another demo still running?); stop it or set" \
      "DEMO_STATION_PORT / DEMO_API_PORT / DEMO_WORKBENCH_PORT" >&2
    exit 1
  fi
done

echo "=== build"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "${WIM_JOBS:-2}" --target wim-collector wim-edge wim-sim wim-verify

echo "=== provision $run"
mkdir -p "$run"
collector/demo/provision.sh "$run" >/dev/null
# The demo notices a silent station after 30 s rather than the production default.
# The workbench on its own HTTPS port, with the demo CA's server certificate.
python3 - "$run/collector.json" "$station_port" "$api_port" "$workbench_port" <<'PY'
import json, sys
path, sp, ap, wp = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
c = json.load(open(path))
c["listen"]["port"] = sp
c["operator_listen"]["port"] = ap
c["monitor"]["silent_after_s"] = 30
c["workbench_listen"] = "127.0.0.1:%d" % wp
json.dump(c, open(path, "w"), indent=1)
PY

# Workbench logins, one per role a person needs to work a case. The collector has no
# default password: the demo makes random ones on its first run and keeps them (mode 600)
# so a second run prints the same logins. If the logins file is gone, the demo's users.db
# is made again (it holds only these demo users).
logins="$run/workbench-logins.txt"
demo_users="transport:transport_reviewer police:police_reviewer supervisor:supervisor operator:operator"
if [ ! -s "$logins" ]; then
  rm -f "$run/data/users.db"
  (umask 077
   for ur in $demo_users; do
     echo "${ur%%:*} ${ur#*:} $(openssl rand -hex 8)"
   done >"$logins.new")
  mv "$logins.new" "$logins"
fi
while read -r user role password; do
  if ! msg=$(printf '%s\n' "$password" | build/collector/wim-collector add-user \
    --config "$run/collector.json" --user "$user" --role "$role" 2>&1); then
    case "$msg" in
      *"exists already"*) ;;  # made by an earlier run, with this password
      *) echo "add-user $user: $msg" >&2; exit 1 ;;
    esac
  fi
done <"$logins"
print_workbench() {
  echo "The review workbench: $workbench  (certificate from the demo CA $run/pki/ca.cert.pem:"
  echo "  import it, or accept the browser's warning). Logins (user / password, role):"
  while read -r user role password; do
    printf '    %-11s %s   %s\n' "$user" "$password" "$role"
  done <"$logins"
  echo "  Work a case: log in as transport, open a case, read the plate if asked, Confirm (c);"
  echo "  log in as police, decide (f fine / w warning), Close (x); supervisor: Statistics."
}

ids=$(seq -f 'G%03g' 1 "$stations")
today=$(date -u +%Y-%m-%d)
started_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ)
lone=$(printf 'G%03d' "$stations")  # runs alone, is cut off half-way
n=0
for id in $ids; do
  n=$((n + 1))
  dir="$run/stations/$id"
  mkdir -p "$dir"
  # The recording starts when the demo does, so its records (stamped with the recording's
  # time when replayed) carry today's date and the workbench's statistics show today; it is
  # made again on a later day, kept on the same day.
  if [ ! -s "$dir/sim/rec.csv" ] || [ "$(cat "$dir/sim/demo-day" 2>/dev/null)" != "$today" ]; then
    # Every 3rd station is a busy two-lane road seen by one camera (dense traffic).
    lanes_args=()
    if [ $((n % 3)) -eq 0 ]; then lanes_args=(--lanes 2 --flow 2400); fi
    build/hw/wim-sim record --seed "$n" --vehicles "$vehicles" --station "$id" \
      --overload-share 0.3 "${lanes_args[@]}" --start-utc "$started_utc" --out "$dir/sim" >/dev/null
    echo "$today" >"$dir/sim/demo-day"
  fi
  python3 - "$dir" "$run" "$id" "$station_port" "$seconds" <<'PY'
import json, sys, os
d, run, sid, port, seconds = sys.argv[1:6]
cfg = json.load(open(os.path.join(d, "sim", "station.json")))
cfg["station_id"] = sid
cfg["keys"] = {"signing_key": os.path.join(run, "keys", sid + ".key.pem")}
cfg["uplink"] = {"url": "https://127.0.0.1:" + port,
                 "ca_file": os.path.join(run, "pki", "ca.cert.pem"),
                 "cert_file": os.path.join(run, "pki", "stations", sid + ".cert.pem"),
                 "key_file": os.path.join(run, "pki", "stations", sid + ".key.pem"),
                 "heartbeat_s": 10}
cfg["outbox"] = {"path": os.path.join(d, "outbox.db"), "quota_mb": 256}
cfg["acquisition"] = {"source": "replay", "recording": os.path.join(d, "sim", "rec.csv")}
# Paced replay: the recording's vehicles are spread over 80 % of the run (slower than real
# time when the recording is shorter), so records arrive throughout the demo; real time
# when the demo runs until Ctrl-C (DEMO_SECONDS=0).
with open(cfg["acquisition"]["recording"]) as f:
    f.seek(max(0, os.path.getsize(f.name) - 4096))
    rec_s = int(f.read().strip().splitlines()[-1].split(",")[0]) / 1e6
run_s = 0.8 * int(seconds)
cfg["acquisition"]["pace"] = round(min(1.0, rec_s / run_s), 4) if run_s > 0 else True
# Plate camera (issue 7): the sim twin, driven by the recording's truth.jsonl (plates of
# the violations); field conditions drawn per pass; every 9th violation finds the stream
# down (a camera_fault record, the plate left to a human).
# One camera sees all the station's lanes side by side; each lane's plates are read only in
# its region (the lower part of its share of the frame: a close follower, higher up, and the
# next lane's vehicle are left out; two sure plates in a region go to a human).
lanes = sorted({ch["lane"] for ch in cfg["channels"]})
w = 1.0 / len(lanes)
cfg["camera"] = {"kind": "sim", "condition": "mixed", "seed": sum(map(ord, sid)),
                 "lead_s": 0.15, "lag_s": 0.15, "max_frames": 3, "fail_every": 9,
                 "view_lanes": len(lanes),
                 "lanes": {str(l): {"roi": [round(i * w, 4), 0.45, round(w, 4), 0.55]}
                           for i, l in enumerate(lanes)}}
cfg.setdefault("calibration", {})
cfg["calibration"].setdefault("id", "DEMO-" + sid + "-SIM")
json.dump(cfg, open(os.path.join(d, "station.json"), "w"), indent=1)
PY
done

pids=()
cleanup() {
  # SIGTERM: every station seals its station_stop record; the collector closes its files.
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

echo "=== start wim-collector"
mkdir -p "$run/logs"
build/collector/wim-collector --config "$run/collector.json" >"$run/logs/collector.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -fs "$api/v1/stations" >/dev/null 2>&1 && break; sleep 0.2; done

echo "=== start $((stations - 1)) stations in one wim-edge run-many process, $lone alone"
group=()
new=""
for id in $ids; do
  [ "$id" = "$lone" ] && continue
  group+=(--config "$run/stations/$id/station.json")
  [ -e "$run/stations/$id/outbox.db" ] || new="--new-chain"
done
many_started=$(date +%s.%N)
build/edge/wim-edge run-many $new "${group[@]}" >"$run/logs/run-many.log" 2>&1 &
many_pid=$!
pids+=("$many_pid")
new=""
[ -e "$run/stations/$lone/outbox.db" ] || new="--new-chain"
build/edge/wim-edge run --config "$run/stations/$lone/station.json" $new \
  >"$run/logs/$lone.log" 2>&1 &
lone_pid=$!
pids+=("$lone_pid")

# run-many logs "run-many: N stations started in T ms" once every station has started.
for _ in $(seq 600); do
  grep -q "stations started in" "$run/logs/run-many.log" 2>/dev/null && break
  kill -0 "$many_pid" 2>/dev/null || { echo "wim-edge run-many ended:" >&2;
    tail -20 "$run/logs/run-many.log" >&2; exit 1; }
  sleep 0.2
done
ready_s=$(python3 -c "import time; print(f'{time.time() - $many_started:.1f}')")
rss() { awk '/^VmRSS|^VmHWM/ {printf "%s %.0f MB  ", $1, $2 / 1024}' "/proc/$1/status" 2>/dev/null; }
echo "  run-many: $(grep -o '[0-9]* stations started in [0-9]* ms' "$run/logs/run-many.log")" \
  "(${ready_s} s from launch); $(rss "$many_pid")"

cat <<TXT

The demo is running. Look at:
  stations and their uplinks   curl -s $api/v1/stations | python3 -m json.tool
  one station                  curl -s $api/v1/stations/G001
  alerts                       curl -s $api/v1/alerts
  cases for review             curl -s $api/v1/cases
  Prometheus metrics           curl -s $api/metrics
  evidence packets (spool)     $run/spool/  (one tar per case, keys/ beside them)
  logs                         $run/logs/
Station $lone is cut off half-way; its "silent" alert appears 30-40 s later.
TXT
print_workbench

summary() {
  curl -fs "$api/v1/stations" | python3 -c '
import json, sys, datetime
st = json.load(sys.stdin)
now = datetime.datetime.now(datetime.timezone.utc)
def recent(s):  # heard within 60 s (a heartbeat every 10 s) and not alerted silent
    t = s.get("last_heartbeat_utc")
    if not t or "silent" in s.get("alerts", []): return False
    t = datetime.datetime.fromisoformat(t.replace("Z", "+00:00"))
    return (now - t).total_seconds() < 60
rep = [s for s in st if recent(s)]
recs = sum((s.get("chain") or {}).get("records", 0) for s in st)
print(f"  {len(rep)} of {len(st)} registered stations reporting, {recs} records stored")' || true
  curl -fs "$api/v1/cases" | python3 -c '
import json, sys
c = json.load(sys.stdin)
print(f"  {len(c)} cases awaiting review")' || true
}

start=$(date +%s)
stopped=0
alerted=0
while :; do
  sleep 10
  now=$(date +%s)
  echo "--- $(date -u +%H:%M:%SZ)  load $(cut -d' ' -f1-3 /proc/loadavg)  run-many $(rss "$many_pid")"
  summary
  if [ "$stopped" = 0 ] && [ "$seconds" != 0 ] && [ $((now - start)) -ge $((seconds / 2)) ]; then
    echo "  cutting station $lone off (kill -9, as if its power failed)"
    kill -9 "$lone_pid" 2>/dev/null || true
    stopped=$now
  fi
  if [ "$stopped" != 0 ] && [ "$alerted" = 0 ] && curl -fs "$api/v1/alerts?active=1" |
    python3 -c 'import json, sys; sys.exit(not any(a["station_id"] == sys.argv[1] and
      a["kind"] == "silent" for a in json.load(sys.stdin)))' "$lone"; then
    alerted=1
  fi
  # Run on past DEMO_SECONDS (up to 90 s) until the cut-off station's alert has shown.
  if [ "$seconds" != 0 ] && [ $((now - start)) -ge "$seconds" ]; then
    [ "$alerted" = 1 ] || [ $((now - stopped)) -ge 90 ] && break
  fi
done

echo
echo "=== summary"
summary
echo "  run-many ($((stations - 1)) stations in one process): $(rss "$many_pid"); started in ${ready_s} s"
curl -fs "$api/v1/alerts" | python3 -c '
import json, sys
lone = sys.argv[1]
al = [a for a in json.load(sys.stdin) if a["station_id"] == lone and a["kind"] == "silent"]
for a in al[-1:]:
    print("  ALERT %s silent: %s (since %s, active %s)" % (lone, a["detail"], a["start_utc"], a["active"]))
if not al: print(f"  no silent alert for {lone} (yet)")' "$lone" || true

echo "=== one evidence packet checked with tar + openssl alone"
spool="$run/spool"
# The newest case whose plate the camera read (a camera fault leaves it to a human).
tarfile=$(python3 - "$spool" <<'PY' || true
import glob, json, os, sys, tarfile
tars = sorted(glob.glob(os.path.join(sys.argv[1], "*.tar")), key=os.path.getmtime, reverse=True)
for t in tars[:50]:
    with tarfile.open(t) as tf:
        m = next((x for x in tf.getmembers() if x.name.endswith("/manifest.json")), None)
        p = (json.load(tf.extractfile(m)).get("measurement") or {}).get("plate") or {} if m else {}
    if p.get("text"):
        print(t); break
else:
    print(tars[0] if tars else "")
PY
)
if [ -z "$tarfile" ]; then
  echo "  no case tar in $spool yet"
else
  check=$(mktemp -d)
  tar -xf "$tarfile" -C "$check"
  pkt=$(ls "$check")
  m="$check/$pkt/manifest.json"
  sid=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["station_id"])' "$m")
  echo "  $tarfile ($pkt)"
  echo "  \$ openssl pkeyutl -verify -pubin -inkey $spool/keys/$sid.pub.pem -rawin -in manifest.json -sigfile manifest.sig"
  sig=$(openssl pkeyutl -verify -pubin -inkey "$spool/keys/$sid.pub.pem" -rawin \
    -in "$m" -sigfile "$check/$pkt/manifest.sig" 2>&1 || true)
  echo "    $sig"
  ok=0
  bad=0
  while read -r name sha; do
    got=$(openssl dgst -sha256 -r "$check/$pkt/$name" | cut -d' ' -f1)
    if [ "$got" = "$sha" ]; then ok=$((ok + 1)); else bad=$((bad + 1)); echo "    MISMATCH $name"; fi
  done < <(python3 -c '
import json, sys
for a in json.load(open(sys.argv[1]))["attachments"]: print(a["name"], a["sha256"])' "$m")
  echo "  attachments: $ok match the manifest's sha256, $bad do not"
  python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
me, le = m.get("measurement", {}), m.get("legal", {})
p = me.get("plate") or {}
print("  case: station %s seq %s, plate %s %s, gross %s kg, limit %s kg" % (m["station_id"], m["seq"],
      p.get("text") or "(for a human to read)", p.get("colour", ""), me.get("gross_kg"), le.get("limit_kg")))' "$m"
  rm -rf "$check"
fi

echo "=== every station's chain at the collector, exported and checked with wim-verify alone"
# wim-collector export writes a station's stored records (the bytes it signed) as tars and
# the registry's public key; wim-verify checks signatures, hashes, links and that the chain
# is complete from seq 1. Safe while the collector runs (SQLite WAL).
rm -rf "$run/chains"
vok=0
vbad=0
vrecords=0
for i in $(seq 1 "$stations"); do
  id=$(printf 'G%03d' "$i")
  out="$run/chains/$id"
  if ! build/collector/wim-collector export --config "$run/collector.json" --station "$id" \
    --out "$out" >"$run/chains.$id.log" 2>&1; then
    vbad=$((vbad + 1))
    echo "  $id: export: $(tail -1 "$run/chains.$id.log")"
    continue
  fi
  res=$(build/common/wim-verify --json --from-one --key "$out/$id.pub.pem" "$out" || true)
  line=$(python3 -c '
import collections, json, sys
r = json.loads(sys.argv[1])
kinds = collections.Counter(f["problem"] for f in r["findings"])
print(r["records"], "ok" if r["ok"] else "problems: " + ", ".join(f"{k} x{n}" for k, n in kinds.items()))' "$res")
  vrecords=$((vrecords + ${line%% *}))
  if [ "${line#* }" = ok ]; then vok=$((vok + 1)); else
    vbad=$((vbad + 1))
    echo "  $id: ${line#* }"
  fi
done
rm -f "$run"/chains.*.log
echo "  $vok of $stations chains complete from seq 1 and verified ($vrecords records);" \
  "exported to $run/chains/"
echo "  by hand: build/collector/wim-collector export --config $run/collector.json --station G001 --out DIR"
echo "           build/common/wim-verify --from-one --key DIR/G001.pub.pem DIR"

cat <<TXT
=== demo over; data kept in $run
  collector: $run/data (meta.db, blobs/, cases.db)   spool: $run/spool/   logs: $run/logs/
  check a chain without our collector: build/common/wim-verify --help
TXT
echo "=== the workbench"
print_workbench
if [ "$keep" = 1 ]; then
  # The stations stop (each seals its station_stop record); the collector goes on serving.
  for p in "${pids[@]:1}"; do kill "$p" 2>/dev/null || true; done
  echo "The stations have stopped; the collector keeps serving the workbench. Ctrl-C ends it."
  wait "${pids[0]}" 2>/dev/null || true
fi

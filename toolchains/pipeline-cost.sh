#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Cost of the weighing pipeline in instructions per second of traffic, per lane, on x86
# (valgrind --tool=callgrind) and on aarch64 (qemu-aarch64 guest instruction count from
# its own logs, toolchains/qemu-insn-count.awk), same input: a wim-sim recording replayed
# by `wim-edge weigh`. Prints the share of a Cortex-A53 core that one lane needs.
#
#   toolchains/pipeline-cost.sh            (after a native build in build/ and
#                                           toolchains/cross-test.sh aarch64)
# Environment:
#   WIM_X86_BIN=DIR    folder with the x86 wim-edge and wim-sim (default: build/edge, build/hw)
#   WIM_ARM_EDGE=FILE  aarch64 wim-edge (default build-aarch64/edge/wim-edge; missing: x86 only)
#   WIM_VEHICLES=12 WIM_FLOW=1800 WIM_LANES=1 WIM_SEED=7   the recording (wim-sim record)
#   WIM_A53_HZ=1.2e9   Cortex-A53 clock; IPC 0.6..1.0 assumed (in-order, dual issue)
#
# Method: each program runs twice, on the full recording and on its header plus one
# sample row (start-up, config, no traffic); (full - empty) / T_s / lanes is the cost of
# one second of traffic on one lane, CSV parsing included. On x86 callgrind's inclusive
# totals of Pipeline::feed(Block) + Pipeline::finish() give the pipeline alone (on the box
# samples come from Modbus, not CSV).
set -euo pipefail
cd "$(dirname "$0")/.."

x86_bin="${WIM_X86_BIN:-}"
if [ -n "$x86_bin" ]; then
  edge_x86="$x86_bin/wim-edge" sim="$x86_bin/wim-sim"
else
  edge_x86=build/edge/wim-edge sim=build/hw/wim-sim
fi
edge_arm="${WIM_ARM_EDGE:-build-aarch64/edge/wim-edge}"
vehicles="${WIM_VEHICLES:-12}" flow="${WIM_FLOW:-1800}" lanes="${WIM_LANES:-1}"
seed="${WIM_SEED:-7}" a53_hz="${WIM_A53_HZ:-1.2e9}"
for f in "$edge_x86" "$sim"; do
  [ -x "$f" ] || { echo "pipeline-cost: no program $f (build it, or set WIM_X86_BIN)" >&2; exit 2; }
done
command -v valgrind >/dev/null || { echo "pipeline-cost: valgrind missing (scripts/install-deps.sh)" >&2; exit 2; }

work="$(mktemp -d /tmp/wim-pipeline-cost.XXXXXX)"
trap 'rm -rf "$work"' EXIT
"$sim" record --seed "$seed" --vehicles "$vehicles" --flow "$flow" --lanes "$lanes" \
  --out "$work/rec" >/dev/null
# Header: '#' lines and the column line; the empty recording keeps one sample row.
header_lines=$(awk '/^#/ { n++; next } { print n + 1; exit }' "$work/rec/rec.csv")
head -n "$((header_lines + 1))" "$work/rec/rec.csv" >"$work/empty.csv"
last_t_us=$(tail -n 1 "$work/rec/rec.csv" | cut -d, -f1)
channels=$(awk -F, -v h="$header_lines" 'NR == h { print NF - 1; exit }' "$work/rec/rec.csv")
echo "recording: seed $seed, $vehicles vehicles at $flow veh/h, $lanes lane(s), $channels channels," \
  "T = $(awk -v t="$last_t_us" 'BEGIN { printf "%.2f", t / 1e6 }') s"

weigh_args() { echo "weigh --config $work/rec/station.json --recording $1"; }

# callgrind <out> <recording>: total Ir; pipeline Ir into <out>.pipeline
callgrind() {
  # shellcheck disable=SC2046
  valgrind --tool=callgrind --callgrind-out-file="$1" "$edge_x86" $(weigh_args "$2") \
    >"$1.stdout" 2>"$1.log"
  awk '/^(summary|totals):/ { print $2; exit }' "$1"
  callgrind_annotate --inclusive=yes "$1" 2>/dev/null |
    awk '/Pipeline::feed\(wim::recording::Block const&\)|Pipeline::finish\(\)/ {
           v = $1; gsub(",", "", v); s += v } END { print s + 0 }' >"$1.pipeline"
}
x86_full=$(callgrind "$work/cg.full" "$work/rec/rec.csv")
x86_empty=$(callgrind "$work/cg.empty" "$work/empty.csv")
x86_pipe=$(cat "$work/cg.full.pipeline")
vehicles_weighed=$(grep -c . "$work/cg.full.stdout" || true)

arm_full="" arm_empty=""
if [ -x "$edge_arm" ] && command -v qemu-aarch64 >/dev/null; then
  # A cross build with OpenCV loads it from the target root (WIM_TARGET_SYSROOT): qemu -L.
  arm_root=$(sed -n 's/^WIM_TARGET_SYSROOT:PATH=//p' "$(dirname "$(dirname "$edge_arm")")/CMakeCache.txt" 2>/dev/null || true)
  [ -z "$arm_root" ] || export QEMU_LD_PREFIX="$arm_root"
  # qemu_count <recording>: guest instructions (in_asm: block sizes; exec+nochain: every
  # executed block), summed by awk from a fifo (the log would be gigabytes).
  qemu_count() {
    local fifo="$work/qemu.fifo"
    rm -f "$fifo"
    mkfifo "$fifo"
    awk -f toolchains/qemu-insn-count.awk "$fifo" >"$work/qemu.count" &
    local awk_pid=$!
    # shellcheck disable=SC2046
    qemu-aarch64 -d in_asm,exec,nochain -D "$fifo" "$edge_arm" $(weigh_args "$1") >/dev/null
    wait "$awk_pid"
    awk '{ print $2 }' "$work/qemu.count"
  }
  arm_full=$(qemu_count "$work/rec/rec.csv")
  arm_empty=$(qemu_count "$work/empty.csv")
else
  echo "pipeline-cost: no aarch64 wim-edge at $edge_arm (toolchains/cross-test.sh aarch64): x86 only" >&2
fi

awk -v T_us="$last_t_us" -v lanes="$lanes" -v xf="$x86_full" -v xe="$x86_empty" -v xp="$x86_pipe" \
  -v af="$arm_full" -v ae="$arm_empty" -v hz="$a53_hz" -v nv="$vehicles_weighed" 'BEGIN {
  T = T_us / 1e6
  printf "vehicles weighed (x86 output lines): %d\n", nv
  printf "x86     callgrind Ir: full %.4g, empty %.4g, pipeline alone %.4g\n", xf, xe, xp
  x = (xf - xe) / T / lanes; xpl = xp / T / lanes
  printf "x86     instructions per second of traffic per lane: %.3g (pipeline alone %.3g, %.0f%%)\n",
    x, xpl, 100 * xpl / x
  if (af == "") exit
  a = (af - ae) / T / lanes
  printf "aarch64 qemu guest instructions: full %.4g, empty %.4g\n", af, ae
  printf "aarch64 instructions per second of traffic per lane: %.3g (%.2f x the x86 count)\n", a, a / x
  apl = a * xpl / x
  printf "aarch64 pipeline alone (x86 share applied): %.3g per second per lane\n", apl
  lo = a / (hz * 1.0); hi = a / (hz * 0.6)
  printf "Cortex-A53 at %.2g GHz, IPC 1.0..0.6: one lane uses %.2f..%.2f %% of one core" \
    " (4 lanes: %.1f..%.1f %%)\n", hz / 1e9, 100 * lo, 100 * hi, 400 * lo, 400 * hi
}'

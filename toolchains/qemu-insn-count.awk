# SPDX-License-Identifier: Apache-2.0
# Usage: mkfifo f; awk -f toolchains/qemu-insn-count.awk f & qemu-aarch64 -d in_asm,exec,nochain -D f PROGRAM ARGS; wait
# Guest instruction count from `qemu -d in_asm,exec,nochain` log:
# in_asm gives each translated block's instructions; exec logs each block executed.
/^IN:/ { intb = 1; pc = ""; n = 0; next }
intb && /^0x[0-9a-f]+:/ { a = $1; sub(":", "", a); sub(/^0x0+/, "0x", a); if (pc == "") pc = a; n++; next }
intb && /^$/ { if (pc != "") size[pc] = n; intb = 0; next }
/^Trace / { match($0, /\[[0-9a-f]+\/[0-9a-f]+\//); s = substr($0, RSTART + 1, RLENGTH - 2); split(s, p, "/");
  k = "0x" p[2]; sub(/^0x0+/, "0x", k); exec[k]++; next }
END { tot = 0; miss = 0;
  for (k in exec) { kk = k; if (kk in size) tot += exec[k] * size[kk]; else miss += exec[k] }
  printf "guest_instructions %d unmatched_blocks %d\n", tot, miss }

#!/usr/bin/env bash
# Rebuild every example filter (examples/*.bpf.c) and the CLI's default policy
# (policies/default.bpf.c) into the .bpf.o objects checked in beside them.
#
# Needs clang (14 tested) and libbpf-dev (<bpf/bpf_helpers.h>); the tests and the
# runtime only read the committed objects and never need clang.
#
# Deterministic: the same sources and toolchain give byte-identical objects.
# We compile from the repository root with relative source paths and
# -fdebug-compilation-dir=. so that no absolute path of the checkout ends up in
# DWARF or in the BTF line info; clang embeds no timestamps. The -g output is
# kept as is: .BTF/.BTF.ext are what the loader reads (BTF-defined maps,
# global-variable datasecs, line info), so nothing is stripped.
#
# Usage: bash examples/build.sh            (from anywhere)
#        CLANG=clang-14 bash examples/build.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

CLANG=${CLANG:-clang}
# -target bpf has no multiarch include dir; <asm/*.h> (and asm/unistd_64.h for
# the x86_64 syscall numbers) live under the x86_64 multiarch directory.
ASM_INCLUDE=${ASM_INCLUDE:-/usr/include/x86_64-linux-gnu}

if ! command -v "$CLANG" >/dev/null 2>&1; then
	echo "build.sh: $CLANG not found (apt-get install clang libbpf-dev)" >&2
	exit 1
fi
if [ ! -f /usr/include/bpf/bpf_helpers.h ]; then
	echo "build.sh: <bpf/bpf_helpers.h> not found (apt-get install libbpf-dev)" >&2
	exit 1
fi
if [ ! -f "$ASM_INCLUDE/asm/unistd_64.h" ]; then
	echo "build.sh: $ASM_INCLUDE/asm/unistd_64.h not found (set ASM_INCLUDE)" >&2
	exit 1
fi

# -mcpu=v3: atomic fetch-add (BPF_ATOMIC|BPF_FETCH) and 32-bit jumps.
CFLAGS=(-target bpf -O2 -g -mcpu=v3 -fdebug-compilation-dir=. -I"$ASM_INCLUDE" -Wall -Werror)

for src in examples/*.bpf.c policies/default.bpf.c; do
	obj=${src%.c}.o
	"$CLANG" "${CFLAGS[@]}" -c "$src" -o "$obj"
	echo "built $obj"
done

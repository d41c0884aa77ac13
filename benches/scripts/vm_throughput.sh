#!/usr/bin/env bash
# VM throughput (VPC-11): iperf3 TCP from a QEMU guest to a namespace and from one guest to
# another, per vpcd attachment kind (qemu-stream, vhost-user, interface), against the same two
# guests on a plain Linux bridge with TAPs (vhost=on where /dev/vhost-net exists), measured in
# the same run, interleaved, ROUNDS times each (median, min-max and the median of the per-round
# ratios to the bridge reported). Also vpcd's and QEMU's CPU seconds per GB received: under TCG
# the guests bound the throughput, so vpcd's CPU per GB is what compares the attachment kinds.
# Needs root, QEMU, a kernel, busybox and iperf3 (scripts/setup).
#
#   benches/scripts/vm_throughput.sh [SECONDS=5] [ROUNDS=3]
#   VM_BENCH_PLANES=vhost-user,bridge benches/scripts/vm_throughput.sh 5 3   # a subset
#
# Prints a Markdown table; also writes it and a CSV (one row per round, plane and direction)
# to $VM_BENCH_OUT (default target/vm-bench/vm_throughput.{md,csv}; target/ is
# $CARGO_TARGET_DIR if set). Everything it creates
# (namespaces, bridge, TAPs, VMs, vpcd) carries a per-run prefix and is removed on exit by
# vm-bench itself (testbeds::vm::bench).
set -euo pipefail
SECS=${1:-5}
ROUNDS=${2:-3}
PLANES=${VM_BENCH_PLANES:-qemu-stream,vhost-user,interface,bridge}
cd "$(dirname "$0")/../.."
OUT=${VM_BENCH_OUT:-${CARGO_TARGET_DIR:-target}/vm-bench}

if [ "$(id -u)" -ne 0 ]; then
  echo "vm_throughput.sh: needs root (namespaces, TAPs, a bridge)" >&2
  exit 1
fi

cargo build --release -q -p dataplane -p control -p testbeds --bins
exec "${CARGO_TARGET_DIR:-target}/release/vm-bench" --secs "$SECS" --rounds "$ROUNDS" --planes "$PLANES" --out "$OUT"

#!/usr/bin/env bash
# End-to-end throughput: iperf3 TCP between two namespaces in different subnets
#   1. through vpcd (TAP + VNET_HDR offloads, the VPC pipeline), and
#   2. through the Linux kernel routing the same topology (veth pairs + a router namespace),
# measured in the same run, RUNS times each (median reported). Needs root.
#
#   benches/scripts/throughput.sh [SECONDS=5] [RUNS=3]
#
# Everything it creates carries a per-run prefix and is removed on exit.
SECS=${1:-5}
RUNS=${2:-3}
P="vb$(printf '%x' $$)"
source "$(dirname "$0")/common.sh"

{ base_topology; eni eni-a subnet-a 10.0.1.10 "$P-a"; eni eni-b subnet-b 10.0.2.20 "$P-b"; } > "$DIR/topology.toml"
$VPCCTL --socket "$SOCK" up "$DIR/topology.toml" >/dev/null
runs vpcd "$P-a" "$P-b" 10.0.2.20 5200
$VPCCTL --socket "$SOCK" down >/dev/null

kernel_topology
runs kernel "$P-ka" "$P-kb" 10.0.2.20 5300

echo "iperf3 TCP, 1 stream, ${SECS}s x ${RUNS} runs, A 10.0.1.10 -> B 10.0.2.20 (different subnets)"
report vpcd "vpcd (TAP+vnet offloads)"
report kernel "kernel (veth + router namespace)"
python3 -c "print('  vpcd / kernel = %.2f' % ($(cat "$DIR/vpcd.median") / $(cat "$DIR/kernel.median")))"

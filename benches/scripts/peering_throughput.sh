#!/usr/bin/env bash
# Throughput across a VPC peering connection, against routing inside one VPC, on the same
# vpcd in the same run: iperf3 TCP
#   1. between two namespaces in different subnets of one VPC (A 10.0.1.10 -> B 10.0.2.20),
#   2. between two namespaces of two peered VPCs (A 10.0.1.10 -> P 10.1.1.10 over pcx-bench;
#      each VPC routes the other's CIDR to the peering),
# RUNS times each, the two kinds interleaved (median reported). Every ENI is in a group
# open to 10.0.0.0/8, so both paths pass the same security-group work. Needs root.
#
#   benches/scripts/peering_throughput.sh [SECONDS=5] [RUNS=3]
#
# Everything it creates carries a per-run prefix and is removed on exit.
SECS=${1:-5}
RUNS=${2:-3}
P="vp$(printf '%x' $$)"
source "$(dirname "$0")/common.sh"

{
  base_topology
  cat <<TOML

[[route_table]]
id = "rtb-bench-main"
vpc = "vpc-bench"
main = true
routes = [ { destination = "10.1.0.0/16", target = "pcx-bench" } ]

[[security_group]]
id = "sg-bench"
vpc = "vpc-bench"
inbound = [ { protocol = "-1", source = "10.0.0.0/8" } ]

[[vpc]]
id = "vpc-peer"
cidr = "10.1.0.0/16"

[[route_table]]
id = "rtb-peer-main"
vpc = "vpc-peer"
main = true
routes = [ { destination = "10.0.0.0/16", target = "pcx-bench" } ]

[[subnet]]
id = "subnet-p"
vpc = "vpc-peer"
cidr = "10.1.1.0/24"

[[security_group]]
id = "sg-peer"
vpc = "vpc-peer"
inbound = [ { protocol = "-1", source = "10.0.0.0/8" } ]

[[peering_connection]]
id = "pcx-bench"
requester_vpc = "vpc-bench"
accepter_vpc = "vpc-peer"
status = "active"
TOML
  eni eni-a subnet-a 10.0.1.10 "$P-a" '["sg-bench"]'
  eni eni-b subnet-b 10.0.2.20 "$P-b" '["sg-bench"]'
  eni eni-p subnet-p 10.1.1.10 "$P-p" '["sg-peer"]'
} > "$DIR/topology.toml"
$VPCCTL validate "$DIR/topology.toml" >/dev/null
$VPCCTL --socket "$SOCK" up "$DIR/topology.toml" >/dev/null

# Interleaved, so that drift of the machine affects both kinds alike.
intra=() peer=()
for i in $(seq 1 "$RUNS"); do
  intra+=("$(iperf "$P-a" "$P-b" 10.0.2.20 $((5400 + i)))")
  peer+=("$(iperf "$P-a" "$P-p" 10.1.1.10 $((5500 + i)))")
done
printf '%s\n' "${intra[@]}" | median > "$DIR/intra.median"; echo "${intra[*]}" > "$DIR/intra.runs"
printf '%s\n' "${peer[@]}" | median > "$DIR/peer.median"; echo "${peer[*]}" > "$DIR/peer.runs"
# The counters, to check below that the paths carried the traffic without drops.
$VPCCTL --socket "$SOCK" show > "$DIR/show.txt"
$VPCCTL --socket "$SOCK" down >/dev/null

echo "iperf3 TCP, 1 stream, ${SECS}s x ${RUNS} runs (median), all through vpcd:"
report intra "same VPC, 10.0.1.10 -> 10.0.2.20"
report peer "peered VPCs, 10.0.1.10 -> 10.1.1.10"
python3 -c "print('  peered / same VPC = %.2f' % ($(cat "$DIR/peer.median") / $(cat "$DIR/intra.median")))"
# vpcd's drops over the whole run (IPv6 multicast from the namespaces is expected).
echo "  vpcd $(grep -A2 '^Engine$' "$DIR/show.txt" | grep '^drops: ')"
if grep -Eq '(pcx_address_not_in_vpc_cidr|blackhole|no_route|no_eni_for_address|sg_no_match|nacl_deny)=' "$DIR/show.txt"; then
  echo "  WARNING: vpcd dropped traffic on the measured paths"
fi

#!/usr/bin/env bash
# A private-subnet instance reaching an internet host through a NAT gateway, in one run:
#   1. vpcd: instance (10.0.1.10, private subnet, 0/0 -> nat) -> NAT gateway in the
#      public subnet (SNAT to 10.0.0.220:port) -> internet gateway (10.0.0.220 ->
#      198.51.100.7) -> internet namespace (203.0.113.5), 1500-byte hop at the edge;
#   2. the kernel doing the same job: instance <veth> router namespace <veth> internet
#      namespace, the router doing SNAT with nftables masquerade (conntrack), the same
#      1500-byte MTU on the internet side.
# For each: iperf3 TCP throughput (median of RUNS) and the new-connection rate (COUNT
# TCP connections, connect + 1 byte + close, from 4 threads). Needs root.
#
#   benches/scripts/nat_throughput.sh [SECONDS=5] [RUNS=3] [COUNT=20000]
SECS=${1:-5}
RUNS=${2:-3}
COUNT=${3:-20000}
P="vn$(printf '%x' $$)"
source "$(dirname "$0")/common.sh"
cargo build --release -q -p benches --bin connrate
CONNRATE=target/release/connrate

# connrate_run LABEL CLIENT_NS SERVER_NS: the new-connection rate to 203.0.113.5:9000.
connrate_run() {
  ip netns exec "$3" "$CONNRATE" serve 203.0.113.5:9000 > "$DIR/$1.serve" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do grep -q ready "$DIR/$1.serve" && break; sleep 0.05; done
  ip netns exec "$2" "$CONNRATE" client 203.0.113.5:9000 "$COUNT" 4 > "$DIR/$1.rate" || true
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

cat > "$DIR/nat.toml" <<TOML
[[vpc]]
id = "vpc-bench"
cidr = "10.0.0.0/16"

[[route_table]]
id = "rtb-public"
vpc = "vpc-bench"
routes = [ { destination = "0.0.0.0/0", target = "igw-bench" } ]

[[route_table]]
id = "rtb-private"
vpc = "vpc-bench"
routes = [ { destination = "0.0.0.0/0", target = "nat-bench" } ]

[[subnet]]
id = "subnet-public"
vpc = "vpc-bench"
cidr = "10.0.0.0/24"
route_table = "rtb-public"

[[subnet]]
id = "subnet-private"
vpc = "vpc-bench"
cidr = "10.0.1.0/24"
route_table = "rtb-private"

[[eni]]
id = "eni-a"
subnet = "subnet-private"
private_ip = "10.0.1.10"
netns = "$P-a"

[[internet_gateway]]
id = "igw-bench"
vpc = "vpc-bench"
internet = { netns = "$P-inet", cidr = "203.0.113.0/24", gateway = "203.0.113.1", hosts = ["203.0.113.5"] }

[[elastic_ip]]
id = "eipalloc-nat"
public_ip = "198.51.100.7"

[[nat_gateway]]
id = "nat-bench"
subnet = "subnet-public"
allocation_id = "eipalloc-nat"
private_ip = "10.0.0.220"
TOML
$VPCCTL --socket "$SOCK" up "$DIR/nat.toml" >/dev/null
runs vpcd_nat "$P-a" "$P-inet" 203.0.113.5 5600
connrate_run vpcd_nat "$P-a" "$P-inet"
$VPCCTL --socket "$SOCK" show > "$DIR/vpcd_nat.show"
$VPCCTL --socket "$SOCK" down >/dev/null

# The kernel peer: A ($P-ka) <veth> router ($P-kr, masquerade) <veth> internet ($P-ki).
for n in ka kr ki; do ip netns add "$P-$n"; ip -n "$P-$n" link set lo up; done
ip link add "$P-a0" type veth peer name "$P-a1"
ip link add "$P-i0" type veth peer name "$P-i1"
ip link set "$P-a0" netns "$P-ka"; ip link set "$P-a1" netns "$P-kr"
ip link set "$P-i0" netns "$P-ki"; ip link set "$P-i1" netns "$P-kr"
ip -n "$P-ka" addr add 10.0.1.10/24 dev "$P-a0"; ip -n "$P-kr" addr add 10.0.1.1/24 dev "$P-a1"
ip -n "$P-ki" addr add 203.0.113.5/24 dev "$P-i0"; ip -n "$P-kr" addr add 203.0.113.1/24 dev "$P-i1"
ip -n "$P-ka" link set "$P-a0" mtu 9001 up; ip -n "$P-kr" link set "$P-a1" mtu 9001 up
ip -n "$P-kr" link set "$P-i1" mtu 1500 up; ip -n "$P-ki" link set "$P-i0" mtu 1500 up
ip -n "$P-ka" route add default via 10.0.1.1
ip -n "$P-ki" route add default via 203.0.113.1
ip netns exec "$P-kr" sysctl -qw net.ipv4.ip_forward=1
ip netns exec "$P-kr" nft -f - <<NFT
table ip natbench {
  chain post {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "$P-i1" masquerade
  }
}
NFT
runs kernel_nat "$P-ka" "$P-ki" 203.0.113.5 5700
connrate_run kernel_nat "$P-ka" "$P-ki"

echo "Private instance 10.0.1.10 -> internet host 203.0.113.5 through SNAT"
echo "iperf3 TCP, 1 stream, ${SECS}s x ${RUNS} runs (median):"
report vpcd_nat "vpcd NAT gateway + internet gateway"
report kernel_nat "kernel forwarding + nftables masquerade"
echo "New TCP connections ($COUNT, 4 threads):"
printf '  %-40s %s\n' "vpcd NAT gateway + internet gateway" "$(cat "$DIR/vpcd_nat.rate")"
printf '  %-40s %s\n' "kernel forwarding + nftables masquerade" "$(cat "$DIR/kernel_nat.rate")"
grep -A3 -i "nat-bench" "$DIR/vpcd_nat.show" | head -20 || true

#!/usr/bin/env bash
# End-to-end throughput: iperf3 TCP between two namespaces in different subnets
#   1. through vpcd (TAP + VNET_HDR offloads, the VPC pipeline), and
#   2. through the Linux kernel routing the same topology (veth pairs + a router namespace),
# measured in the same run, RUNS times each (median reported). Needs root.
#
#   benches/scripts/throughput.sh [SECONDS=5] [RUNS=3]
#
# Everything it creates carries a per-run prefix and is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-5}
RUNS=${2:-3}
P="vb$(printf '%x' $$)"
DIR=$(mktemp -d "/tmp/$P.XXXX")
SOCK="$DIR/vpcd.sock"
VPCCTL=target/release/vpcctl

cleanup() {
  set +e
  [ -S "$SOCK" ] && $VPCCTL --socket "$SOCK" down >/dev/null 2>&1
  for ns in $(ip netns list | awk '{print $1}' | grep "^$P-"); do ip netns del "$ns"; done
  rm -rf "$DIR"
}
trap cleanup EXIT INT TERM

cargo build --release -q -p dataplane -p control --bins

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# iperf3 from namespace $1 to server $3 in namespace $2; prints Gbit/s.
iperf() {
  local cns=$1 sns=$2 ip=$3 port=$4
  ip netns exec "$sns" iperf3 -s -1 -B "$ip" -p "$port" -D --pidfile "$DIR/iperf-$port.pid"
  # Readiness: wait (bounded) until the listener shows up.
  for _ in $(seq 1 100); do
    ip netns exec "$sns" ss -Hltn "sport = :$port" | grep -q LISTEN && break
    sleep 0.05
  done
  ip netns exec "$cns" iperf3 -c "$ip" -p "$port" -t "$SECS" -J \
    | python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))'
}

# --- vpcd ---
cat > "$DIR/topology.toml" <<TOML
[[vpc]]
id = "vpc-bench"
cidr = "10.0.0.0/16"

[[subnet]]
id = "subnet-a"
vpc = "vpc-bench"
cidr = "10.0.1.0/24"

[[subnet]]
id = "subnet-b"
vpc = "vpc-bench"
cidr = "10.0.2.0/24"

[[eni]]
id = "eni-a"
subnet = "subnet-a"
private_ip = "10.0.1.10"
netns = "$P-a"

[[eni]]
id = "eni-b"
subnet = "subnet-b"
private_ip = "10.0.2.20"
netns = "$P-b"
TOML
$VPCCTL --socket "$SOCK" up "$DIR/topology.toml" >/dev/null
vpcd_runs=()
for i in $(seq 1 "$RUNS"); do vpcd_runs+=("$(iperf "$P-a" "$P-b" 10.0.2.20 $((5201 + i)))"); done
$VPCCTL --socket "$SOCK" down >/dev/null

# --- kernel: A <veth> R <veth> B, R forwards ---
for n in ka kr kb; do ip netns add "$P-$n"; ip -n "$P-$n" link set lo up; done
ip link add "$P-a0" type veth peer name "$P-a1"
ip link add "$P-b0" type veth peer name "$P-b1"
ip link set "$P-a0" netns "$P-ka"; ip link set "$P-a1" netns "$P-kr"
ip link set "$P-b0" netns "$P-kb"; ip link set "$P-b1" netns "$P-kr"
ip -n "$P-ka" addr add 10.0.1.10/24 dev "$P-a0"; ip -n "$P-kr" addr add 10.0.1.1/24 dev "$P-a1"
ip -n "$P-kb" addr add 10.0.2.20/24 dev "$P-b0"; ip -n "$P-kr" addr add 10.0.2.1/24 dev "$P-b1"
for l in "ka $P-a0" "kr $P-a1" "kr $P-b1" "kb $P-b0"; do
  set -- $l; ip -n "$P-$1" link set "$2" mtu 9001 up
done
ip -n "$P-ka" route add default via 10.0.1.1
ip -n "$P-kb" route add default via 10.0.2.1
ip netns exec "$P-kr" sysctl -qw net.ipv4.ip_forward=1
kernel_runs=()
for i in $(seq 1 "$RUNS"); do kernel_runs+=("$(iperf "$P-ka" "$P-kb" 10.0.2.20 $((5301 + i)))"); done

v=$(printf '%s\n' "${vpcd_runs[@]}" | median)
k=$(printf '%s\n' "${kernel_runs[@]}" | median)
echo "iperf3 TCP, 1 stream, ${SECS}s x ${RUNS} runs, A 10.0.1.10 -> B 10.0.2.20 (different subnets)"
printf '  %-34s %6s Gbit/s   (runs: %s)\n' "vpcd (TAP+vnet offloads)" "$v" "${vpcd_runs[*]}"
printf '  %-34s %6s Gbit/s   (runs: %s)\n' "kernel (veth + router namespace)" "$k" "${kernel_runs[*]}"
python3 -c "print('  vpcd / kernel = %.2f' % ($v / $k))"

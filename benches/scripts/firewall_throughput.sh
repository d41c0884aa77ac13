#!/usr/bin/env bash
# iperf3 TCP between two namespaces in different subnets, in one run:
#   1. vpcd without firewall rules (default NACL and security groups: allow-all ACL,
#      default group), 2. vpcd behind the realistic rule set (a 20-entry network ACL
#      per direction on each subnet, each ENI in 5 security groups of 60 rules per
#      direction, the matching rule last), 3. the kernel routing the same topology
#      (veth + router namespace) with an equivalent nftables rule set (the same 20
#      stateless rules per subnet boundary and direction, 300 stateful rules per
#      instance direction with `ct state established,related accept`), 4. the kernel
#      without rules. Needs root.
#
#   benches/scripts/firewall_throughput.sh [SECONDS=5] [RUNS=3]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-5}
RUNS=${2:-3}
P="vf$(printf '%x' $$)"
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

iperf() {
  local cns=$1 sns=$2 ip=$3 port=$4
  ip netns exec "$sns" iperf3 -s -1 -B "$ip" -p "$port" -D --pidfile "$DIR/iperf-$port.pid"
  for _ in $(seq 1 100); do
    ip netns exec "$sns" ss -Hltn "sport = :$port" | grep -q LISTEN && break
    sleep 0.05
  done
  ip netns exec "$cns" iperf3 -c "$ip" -p "$port" -t "$SECS" -J \
    | python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))'
}

runs() { # label cns sns ip baseport
  local out=()
  for i in $(seq 1 "$RUNS"); do out+=("$(iperf "$2" "$3" "$4" $(($5 + i)))"); done
  printf '%s\n' "${out[@]}" | median > "$DIR/$1.median"
  echo "${out[*]}" > "$DIR/$1.runs"
}

base_topology() {
cat <<TOML
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
TOML
}

eni() { # id subnet ip netns [groups]
cat <<TOML

[[eni]]
id = "$1"
subnet = "$2"
private_ip = "$3"
netns = "$4"
${5:+security_groups = $5}
TOML
}

# The rule set: 19 non-matching entries then the matching allow, per direction.
nacl_rules() {
  local out="["
  for i in $(seq 0 18); do
    local act=allow; [ $((i % 2)) -eq 1 ] && act=deny
    out+="{ rule = $((10 + i * 5)), protocol = \"tcp\", ports = \"$((20000 + i))\", cidr = \"192.168.$i.0/24\", action = \"$act\" }, "
  done
  out+="{ rule = 200, protocol = \"-1\", cidr = \"10.0.0.0/16\", action = \"allow\" } ]"
  echo "$out"
}
sg_rules() { # key
  local out="["
  for i in $(seq 0 58); do
    out+="{ protocol = \"tcp\", ports = \"$((10000 + i))\", $1 = \"172.16.$i.0/24\" }, "
  done
  out+="{ protocol = \"tcp\", ports = \"1-65535\", $1 = \"10.0.0.0/16\" } ]"
  echo "$out"
}

# --- vpcd without rules ---
{ base_topology; eni eni-a subnet-a 10.0.1.10 "$P-a"; eni eni-b subnet-b 10.0.2.20 "$P-b"; } > "$DIR/plain.toml"
$VPCCTL --socket "$SOCK" up "$DIR/plain.toml" >/dev/null
runs vpcd_plain "$P-a" "$P-b" 10.0.2.20 5200
# --- vpcd with the rule set (applied live to the same vpcd) ---
{
  base_topology
  echo
  echo '[[network_acl]]'
  echo 'id = "acl-bench"'
  echo 'vpc = "vpc-bench"'
  echo 'subnets = ["subnet-a", "subnet-b"]'
  echo "inbound = $(nacl_rules)"
  echo "outbound = $(nacl_rules)"
  for g in 0 1 2 3 4; do
    echo
    echo '[[security_group]]'
    echo "id = \"sg-bench$g\""
    echo 'vpc = "vpc-bench"'
    echo "inbound = $(sg_rules source)"
    echo "outbound = $(sg_rules destination)"
  done
  groups='["sg-bench0", "sg-bench1", "sg-bench2", "sg-bench3", "sg-bench4"]'
  eni eni-a subnet-a 10.0.1.10 "$P-a" "$groups"
  eni eni-b subnet-b 10.0.2.20 "$P-b" "$groups"
} > "$DIR/rules.toml"
$VPCCTL --socket "$SOCK" apply "$DIR/rules.toml" >/dev/null
runs vpcd_rules "$P-a" "$P-b" 10.0.2.20 5300
$VPCCTL --socket "$SOCK" down >/dev/null

# --- kernel: A <veth> R <veth> B ---
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
runs kernel_plain "$P-ka" "$P-kb" 10.0.2.20 5400

# The equivalent nftables rule set in the router namespace: per subnet boundary and
# direction 20 stateless rules; per instance and direction 300 stateful rules.
{
  echo 'table inet vpcbench {'
  for chain in acl_a_out acl_a_in acl_b_out acl_b_in; do
    echo "  chain $chain {"
    for i in $(seq 0 18); do
      act=accept; [ $((i % 2)) -eq 1 ] && act=drop
      echo "    ip daddr 192.168.$i.0/24 tcp dport $((20000 + i)) $act"
    done
    echo "    ip saddr 10.0.0.0/16 return"
    echo "    drop"
    echo "  }"
  done
  for chain in sg_a_out sg_a_in sg_b_out sg_b_in; do
    echo "  chain $chain {"
    echo "    ct state established,related return"
    for g in 0 1 2 3 4; do
      for i in $(seq 0 58); do echo "    ip saddr 172.16.$i.0/24 tcp dport $((10000 + i)) return"; done
      echo "    ip saddr 10.0.0.0/16 tcp dport 1-65535 return"
    done
    echo "    drop"
    echo "  }"
  done
  echo '  chain forward {'
  echo '    type filter hook forward priority 0; policy drop;'
  echo "    iifname \"$P-a1\" jump sg_a_out"
  echo "    iifname \"$P-a1\" jump acl_a_out"
  echo "    iifname \"$P-a1\" jump acl_b_in"
  echo "    iifname \"$P-a1\" jump sg_b_in"
  echo "    iifname \"$P-b1\" jump sg_b_out"
  echo "    iifname \"$P-b1\" jump acl_b_out"
  echo "    iifname \"$P-b1\" jump acl_a_in"
  echo "    iifname \"$P-b1\" jump sg_a_in"
  echo '    accept'
  echo '  }'
  echo '}'
} > "$DIR/rules.nft"
ip netns exec "$P-kr" nft -f "$DIR/rules.nft"
runs kernel_rules "$P-ka" "$P-kb" 10.0.2.20 5500

echo "iperf3 TCP, 1 stream, ${SECS}s x ${RUNS} runs (median), A 10.0.1.10 -> B 10.0.2.20"
for r in vpcd_plain vpcd_rules kernel_plain kernel_rules; do
  printf '  %-14s %6s Gbit/s   (runs: %s)\n' "$r" "$(cat "$DIR/$r.median")" "$(cat "$DIR/$r.runs")"
done

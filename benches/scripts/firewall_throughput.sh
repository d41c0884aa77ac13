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
SECS=${1:-5}
RUNS=${2:-3}
P="vf$(printf '%x' $$)"
source "$(dirname "$0")/common.sh"

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

kernel_topology
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
report vpcd_plain "vpcd, default ACL and groups"
report vpcd_rules "vpcd, 20-entry ACLs + 5x60-rule groups"
report kernel_plain "kernel forwarding, no rules"
report kernel_rules "kernel forwarding, equivalent nftables"

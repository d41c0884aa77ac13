# Shared by the bench scripts (source it): per-run names, cleanup, iperf3 runs, and the
# vpcd topology. Expects P (the per-run prefix) to be set before sourcing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
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

# iperf3 from namespace $1 to the server $3 in namespace $2 on port $4; prints Gbit/s.
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

# runs LABEL CLIENT_NS SERVER_NS SERVER_IP BASE_PORT: RUNS iperf3 runs; the median goes
# to $DIR/LABEL.median and every figure to $DIR/LABEL.runs.
runs() {
  local out=()
  for i in $(seq 1 "$RUNS"); do out+=("$(iperf "$2" "$3" "$4" $(($5 + i)))"); done
  printf '%s\n' "${out[@]}" | median > "$DIR/$1.median"
  echo "${out[*]}" > "$DIR/$1.runs"
}

# The vpcd topology of the benches: two subnets, one ENI each ($P-a, $P-b).
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

# eni ID SUBNET IP NETNS [GROUPS]
eni() {
cat <<TOML

[[eni]]
id = "$1"
subnet = "$2"
private_ip = "$3"
netns = "$4"
${5:+security_groups = $5}
TOML
}

report() { # LABEL DESCRIPTION
  printf '  %-40s %6s Gbit/s   (runs: %s)\n' "$2" "$(cat "$DIR/$1.median")" "$(cat "$DIR/$1.runs")"
}

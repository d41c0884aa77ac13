#!/usr/bin/env bash
# How long `vpcctl test` takes for 10, 100 and 1,000 checks on the three-tier example
# (its generated reachability matrix, repeated to the size: every check its own source
# port), each size run RUNS times; prints the median wall time per size. Target: 1,000
# checks in under 30 s on a 2-core machine. Needs root (namespaces, TAPs).
#   sudo benches/scripts/vpcctl_test_matrix.sh [RUNS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
RUNS=${1:-3}
DIR=$(mktemp -d /tmp/vpcctl-bench.XXXX)
trap 'rm -rf "$DIR"' EXIT INT TERM
cargo build --release -q -p dataplane -p control --bins
VPCCTL=target/release/vpcctl
cp examples/tests/three-tier.toml "$DIR/"
$VPCCTL test --generate "$DIR/three-tier.toml" > "$DIR/matrix.toml"
# The checks of the matrix, one block each.
awk '/^\[\[check\]\]/{n++} n{print > ("'"$DIR"'/check-" n ".toml")}' "$DIR/matrix.toml"
blocks=$(ls "$DIR"/check-*.toml | wc -l)
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '%-8s %-10s %s\n' checks median_s "reach/blocked"
for n in 10 100 1000; do
  f="$DIR/t$n.test.toml"
  echo 'topology = "three-tier.toml"' > "$f"
  for i in $(seq 0 $((n - 1))); do
    cat "$DIR/check-$(( i % blocks + 1 )).toml" >> "$f"
  done
  times=()
  for _ in $(seq 1 "$RUNS"); do
    t0=$(date +%s.%N)
    $VPCCTL test "$f" --json > "$DIR/out.json"
    t1=$(date +%s.%N)
    times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')")
  done
  reach=$(grep -c '"traffic": "reach"' "$DIR/out.json" || true)
  blocked=$(grep -c '"traffic": "blocked"' "$DIR/out.json" || true)
  printf '%-8s %-10s %s\n' "$n" "$(printf '%s\n' "${times[@]}" | median)" "$reach/$blocked"
done

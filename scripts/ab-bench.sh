#!/usr/bin/env bash
# Alternated wall-time A/B of `cargo bench --bench pools` between an older
# commit and the working tree, as BENCHMARKS.md reports them:
#
#   scripts/ab-bench.sh OLD_COMMIT [ROUNDS] [BENCH_ARGS...]
#   scripts/ab-bench.sh 6b80041 6 --only W1,W2 --runs 5
#
# The old commit is built in a git worktree under target/ab-base. Each round
# runs the old build, then the new one; the summary gives, per workload and
# pool, the median over rounds of each build's per-run median, and the
# median and range of the per-round ratios new/old. Run it on an otherwise
# idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."

old=${1:?usage: scripts/ab-bench.sh OLD_COMMIT [ROUNDS] [BENCH_ARGS...]}
rounds=${2:-6}
shift $(( $# >= 2 ? 2 : 1 ))
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(--only W1,W2 --runs 5)

base=target/ab-base
if [ ! -d "$base" ]; then
    git worktree add --detach "$base" "$old" >/dev/null
else
    git -C "$base" checkout --quiet --detach "$old"
fi
(cd "$base" && cargo bench --bench pools --no-run >/dev/null 2>&1)
cargo bench --bench pools --no-run >/dev/null 2>&1

out=$(mktemp)
for round in $(seq "$rounds"); do
    for side in old new; do
        dir=.
        [ "$side" = old ] && dir=$base
        (cd "$dir" && cargo bench --bench pools -- "${args[@]}" 2>/dev/null) |
            grep -E '^\| W[0-9] time \|' | sed "s/^/$round $side /" >>"$out"
    done
    echo "round $round of $rounds done" >&2
done

python3 - "$out" <<'PY'
import collections, statistics as st, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    f = [x.strip() for x in line.split('|')]
    _, side = f[0].split()
    runs[(f[1].split()[0], f[2], side)].append(float(f[3].split()[0]))
print("| workload | pool | old (ms) | new (ms) | new/old per round: median (range) |")
print("|---|---|---|---|---|")
for (work, pool) in sorted({(w, p) for (w, p, _) in runs}):
    old, new = runs[(work, pool, 'old')], runs[(work, pool, 'new')]
    ratios = [n / o for o, n in zip(old, new)]
    print(f"| {work} | {pool} | {st.median(old):.1f} | {st.median(new):.1f} | "
          f"{st.median(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f}) |")
PY
rm -f "$out"

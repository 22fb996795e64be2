#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# run-cluster.sh: the linearizability runs of it_linear_cluster, longer:
# three founders on loopback, CLIENTS clients spread over the three nodes,
# kill -9 CRASHES times at even intervals (then restarted at once) of the
# leader in one run, of a random node in the other (the crash-safety run:
# every node then loads the same checkpoints), and as many partitions in a
# third (the leader, a follower or one link cut off, then healed),
# porcupine over each whole history. Prints the figures; exit status is
# the tests' (0: linearizable and worth checking).
#
#   cluster-tests/linear/run-cluster.sh [SECONDS [CRASHES [CLIENTS [OPS]]]]
#
# SECONDS: length of the load (default 120); CRASHES (and partitions):
# default one per 8 s; CLIENTS: default 6; OPS: a bound on operations (default 40000, at
# most 100000). BUILD: the build directory (default build/dev), built
# with the linear_tools target (Go). Loopback only; every process is
# reaped and its temp dirs removed by the test.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${BUILD:-$root/build/dev}" && pwd)
secs=${1:-120}
crashes=${2:-$((secs / 8))}
clients=${3:-6}
ops=${4:-40000}
for f in "$build/node/naos-node" "$build/cli/naos" \
         "$build/cluster-tests/linear/naos-linload" \
         "$build/cluster-tests/linear/naos-lincheck"; do
    if [ ! -x "$f" ]; then
        echo "run-cluster.sh: $f is missing: build naos-node, naos and" \
             "linear_tools in $build first" >&2
        exit 100
    fi
done
export NAOS_NODE_BIN="$build/node/naos-node" NAOS_BIN="$build/cli/naos" \
       NAOS_LINLOAD_BIN="$build/cluster-tests/linear/naos-linload" \
       NAOS_LINCHECK_BIN="$build/cluster-tests/linear/naos-lincheck" \
       NAOS_IT_ARTIFACTS="$build/it-artifacts" PYTHONDONTWRITEBYTECODE=1 \
       NAOS_LINEAR_SECONDS="$secs" NAOS_LINEAR_CRASHES="$crashes" \
       NAOS_LINEAR_ANY_SECONDS="$secs" NAOS_LINEAR_ANY_CRASHES="$crashes" \
       NAOS_LINEAR_CUT_SECONDS="$secs" NAOS_LINEAR_CUTS="$crashes" \
       NAOS_LINEAR_CLIENTS="$clients" NAOS_LINEAR_OPS="$ops"
cd "$root/cluster-tests/it"
exec python3 -m unittest -v test_linear_cluster

#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# run.sh: the full chaos run of issue 12 (cluster-tests/it/chaos.py):
# five founders on loopback, 20 deployments whose agents beat every 20 ms
# and save a checkpoint every 200 ms, 30 rounds of kill -9, SIGSTOP (of a
# follower, of the leader) and partitions held past the lease. Prints
# each round and the figures (recovery p50/max per kind, the least gap
# between two runs of a deployment, stale-epoch refusals, overlaps);
# exit status 0 when no two runs overlapped, no checkpoint was lost, no
# node but a round's victim fenced itself and every round recovered.
#
#   cluster-tests/chaos/run.sh [ROUNDS [DEPLOYMENTS]]
#
# Environment: BUILD (default build/dev, with naos-node and naos built),
# NAOS_CHAOS_SEED (replay a run's choices), NAOS_CHAOS_HOLD (seconds a
# stop or cut is held, default 5; LO-HI draws each round's, e.g. 2-4 to
# end faults around the lease), NAOS_CHAOS_SAVE_MS (200),
# NAOS_CHAOS_KINDS (kill9,stop,stop-leader,partition),
# NAOS_CHAOS_NODE_ARGS (more naos-node flags: --log-level debug),
# NAOS_IT_KEEP=1 (keep the temp dirs: each node's node.log, the agents'
# hb-*/ck-* records).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${BUILD:-$root/build/dev}" && pwd)
for f in "$build/node/naos-node" "$build/cli/naos"; do
    if [ ! -x "$f" ]; then
        echo "run.sh: $f is missing: build naos-node and naos in $build" \
             "first" >&2
        exit 100
    fi
done
export NAOS_NODE_BIN="$build/node/naos-node" NAOS_BIN="$build/cli/naos" \
       PYTHONDONTWRITEBYTECODE=1 \
       NAOS_CHAOS_ROUNDS="${1:-${NAOS_CHAOS_ROUNDS:-30}}" \
       NAOS_CHAOS_DEPLOYMENTS="${2:-${NAOS_CHAOS_DEPLOYMENTS:-20}}"
cd "$root/cluster-tests/it"
exec python3 chaos.py

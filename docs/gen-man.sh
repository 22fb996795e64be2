#!/bin/sh
# Generates the man pages from the programs' own --help (help2man), so the
# reference installed with naos is always the text the programs print:
#   docs/gen-man.sh NAOS NAOS_NODE OUTDIR
# naos(1) gets one section per command (`naos help COMMAND`).
set -eu
naos=$1 node=$2 out=$3
mkdir -p "$out"
inc="$out/naos.h2m"
{
    echo "[COMMANDS]"
    # the command names are the first words of the indented lines of the
    # "Commands:" block of `naos --help`
    "$naos" --help | sed -n '/^Commands:/,/^$/p' |
        sed -n 's/^  \([a-z][a-z-]*\).*/\1/p' | while read -r cmd; do
        [ "$cmd" = help ] && continue
        echo ".SS naos $cmd"
        echo ".nf"
        "$naos" help "$cmd" | sed 's/\\/\\\\/g; s/^\./\\\&./; s/^'"'"'/\\\&'"'"'/'
        echo ".fi"
    done
} >"$inc"
help2man --no-info --section 1 --include "$inc" \
    --name "control naos-node, the supervisor of AI agent processes" \
    --output "$out/naos.1" "$naos"
help2man --no-info --section 8 \
    --name "the naos node daemon: supervises agent processes, gossips health" \
    --output "$out/naos-node.8" "$node"

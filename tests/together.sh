#!/usr/bin/env bash
# Run commands at the same time, then print each one's output in turn, under its name.
#
#   bash tests/together.sh NAME COMMAND [NAME COMMAND ...]
#
# Each COMMAND is one bash command line. The exit status is 0 when every command exited 0; else
# the names of those that did not are printed last, and the status is 1. `make test-environments`
# runs its three one-backend environments this way: each runs a pytest whose tests start the
# console script one process after another, so on two cores two of them take the time of one.
set -uo pipefail
[ $# -ge 2 ] && [ $(($# % 2)) -eq 0 ] || { echo "usage: together.sh NAME COMMAND [NAME COMMAND ...]" >&2; exit 2; }
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
names=() pids=()
while [ $# -gt 0 ]; do
  names+=("$1")
  bash -c "$2" > "$logs/${#pids[@]}" 2>&1 &
  pids+=($!)
  shift 2
done
failed=()
for index in "${!pids[@]}"; do
  wait "${pids[$index]}"
  status=$?
  echo "=== ${names[$index]} (exit $status)"
  cat "$logs/$index"
  [ "$status" -eq 0 ] || failed+=("${names[$index]}")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "together.sh: failed: ${failed[*]}" >&2
  exit 1
fi

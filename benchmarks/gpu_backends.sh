#!/usr/bin/env bash
# The GPU figures in one device call of at most 9 minutes, on a machine with PyTorch and JAX on
# CUDA and no Keras or TensorFlow (the lent H100/H200: Python 3.12); vaekit, Keras and what the
# device image lacks travel as wheels in .whl/. Rehearsed here first, on the CPU, the same way.
#
#   bash benchmarks/gpu_backends.sh --wheels                   # here: fill .whl/ (git-ignored)
#   bash benchmarks/gpu_backends.sh --rehearse OUT [OPTIONS]   # here: the device run at a tenth
#   bash benchmarks/gpu_backends.sh OUT [OPTIONS]              # there: the device run
#   python -m benchmarks.gpu_report OUT [--write]              # here: the rows of the docs
#
# The device call (docs/benchmarks.md, section 10, says it too):
#   run(command="bash benchmarks/gpu_backends.sh $OUT", carry=[".whl"], timeout_s=570)
#
# OPTIONS: --only STEP,...  the named steps alone (a second call that redoes what failed);
#          --env DIR        (--rehearse) reuse this Python 3.12 environment, made if missing.
# REHEARSAL_STEPS=N in the environment: (--rehearse) the throughput step's timed steps per
#          implementation [20]
#
# The steps, each bounded by `timeout`, their device seconds in brackets (about 510 in all, with
# the install): a step that fails is written to steps.tsv and the next one runs.
#   info        the GPUs and the versions                                                   [10]
#   throughput  the reference config (batch 128): vaekit and plain Keras on JAX and on
#               PyTorch, and the plain eager PyTorch loop, 3 interleaved rounds             [120]
#   batches     vaekit on JAX at batch 512, 1024, 2048: the fastest per image               [90]
#   seed        configs/mnist_seed.yaml's 6 epochs on JAX, against the seed table           [60]
#   spread      the same on 2 GPUs with train.distribute data_parallel, only where there
#               are 2 (the lent machines have one: steps.tsv says so)                        [0]
#   binarized   configs/binarized_mnist.yaml on JAX, the VAE and an IWAE (k = 5) side by
#               side for TRAIN_SECONDS, then each one's test NLL (K = 5,000, all 10,000)  [140+90]
# That leaves about 5 of the 15 device minutes: the machine's start, and a second, shorter call
# (--only) for a step that failed.
#
# What comes back ($OUT holds at most 8 files, none over 16 MiB): steps.tsv (each step's exit
# code and seconds) and gpu_run.tgz (every step's JSON, tables, logs and metrics, without models
# or checkpoints), packed again after every step, so that a call killed at its limit still
# returns what finished.
#
# --rehearse does on this machine what the device does, and fails where it would: it builds the
# wheels, makes a fresh Python 3.12 environment holding what the device image holds that vaekit
# touches (benchmarks/device_image.txt: JAX's CPU build, PyTorch, NumPy, ...; no Keras, no
# TensorFlow), installs .whl/ into it with the same `pip --target`, and runs every step at a tenth
# of its size (fewer steps and rounds, a tenth of the images; the test NLL on 500 images with K =
# 100), JAX on the CPU.
set -uo pipefail
{  # read whole before it runs, so that editing this file meanwhile cannot change a run
cd "$(dirname "$0")/.."
root=$PWD

fail() { echo "gpu_backends.sh: $*" >&2; exit 2; }

wheels() {
  [ -x .venv/bin/python ] || fail "no .venv: run make setup first"
  local exclude
  exclude=$(git rev-parse --git-path info/exclude 2>/dev/null) && mkdir -p "$(dirname "$exclude")" \
    && { grep -qx '/.whl/' "$exclude" 2>/dev/null || echo /.whl/ >> "$exclude"; }
  rm -rf .whl build && mkdir .whl  # build/: setuptools would pack stale modules left in it
  .venv/bin/python -m pip wheel --quiet --no-deps --wheel-dir .whl . || return 1
  # Keras and what it needs that the device image lacks (benchmarks/device_image.txt has the
  # rest), as Python 3.12 wheels.
  .venv/bin/python -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d .whl \
    "keras==$(.venv/bin/python -c 'import keras; print(keras.__version__)')" namex optree \
    || return 1
  du -sh .whl
}

python312() {  # a Python 3.12 that runs: $PYTHON312, on PATH, or pyenv's (a pyenv shim may not run)
  local found
  for found in "${PYTHON312:-}" "$(command -v python3.12)" \
      "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3.12 /root/.pyenv/versions/3.12*/bin/python3.12; do
    [ -n "$found" ] && [ -x "$found" ] \
      && "$found" -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1 \
      && { echo "$found"; return 0; }
  done
  return 1
}

rehearsal_env() {  # DIR: a venv with the device image's packages (benchmarks/device_image.txt)
  local dir=$1 py
  if [ -x "$dir/bin/python" ] && [ -f "$dir/.device-image" ] \
      && cmp -s "$dir/.device-image" benchmarks/device_image.txt; then
    return 0
  fi
  py=$(python312) || fail "--rehearse needs Python 3.12 (the device's): none on PATH or in pyenv"
  rm -rf "$dir" && "$py" -m venv "$dir" || return 1
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r benchmarks/device_image.txt 2> >(grep -v "is ignored: it is neither" >&2) || return 1
  cp benchmarks/device_image.txt "$dir/.device-image"
}

mode=device
case "${1:-}" in
  --wheels) wheels; exit $? ;;
  --rehearse) mode=rehearse; shift ;;
esac
out=${1:-}
[ -n "$out" ] && [ "${out#-}" = "$out" ] \
  || fail "usage: gpu_backends.sh [--rehearse] OUT [--only STEP,...] [--env DIR] (or --wheels)"
shift
out=$(mkdir -p "$out" && cd "$out" && pwd) || fail "cannot make $1"
all_steps="info throughput batches seed spread binarized"
only=$all_steps env_dir=
while [ $# -gt 0 ]; do
  case "$1" in
    --only) only=${2:?--only needs STEP,...}; only=${only//,/ }; shift 2 ;;
    --env) env_dir=${2:?--env needs a folder}; shift 2 ;;
    *) fail "unknown option $1" ;;
  esac
done
for step in $only; do
  case " $all_steps " in *" $step "*) ;; *) fail "--only: unknown step $step; choose from ${all_steps// /, }" ;; esac
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
site=$work/site
if [ "$mode" = rehearse ]; then
  wheels > "$work/wheels.log" 2>&1 || { cat "$work/wheels.log" >&2; fail "--wheels failed"; }
  env_dir=${env_dir:-$work/python3.12}
  echo "rehearsal: Python 3.12 environment in $env_dir" >&2
  rehearsal_env "$env_dir" || fail "could not make the Python 3.12 environment in $env_dir"
  py=$env_dir/bin/python
  export JAX_PLATFORMS=cpu CUDA_VISIBLE_DEVICES=
  # A tenth of the device run.
  steps=${REHEARSAL_STEPS:-20} warmup=2 repeats=1 batch_steps=4 batch_warmup=1 limit="--set data.limit=6000"
  train_seconds=60 samples=100 eval_limit="--limit 500" slow=900 max_points=4096
else
  [ -d .whl ] || fail "no .whl/ here: run 'bash benchmarks/gpu_backends.sh --wheels' first, then carry .whl"
  py=python3
  steps=200 warmup=20 repeats=3 batch_steps=100 batch_warmup=10 limit=
  train_seconds=${TRAIN_SECONDS:-140} samples=5000 eval_limit= slow=1 max_points=65536
fi
"$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target "$site" .whl/*.whl || fail "pip could not install .whl/ into $site"
export PYTHONPATH=$site PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2 KERAS_BACKEND=jax
results=$work/results
mkdir -p "$results/runs"
printf 'step\trc\tseconds\n' > "$out/steps.tsv"

# The step's limit: its device seconds, or on the CPU (a tenth of the work, at CPU speed) SLOW.
limit_s() { [ "$mode" = rehearse ] && echo "$slow" || echo "$1"; }

pack() {  # everything but models and checkpoints, into $out/gpu_run.tgz (replaced whole)
  tar -czf "$out/gpu_run.tgz.part" -C "$results" --exclude='*.keras' --exclude=checkpoints \
    --exclude='*.weights.h5' . && mv "$out/gpu_run.tgz.part" "$out/gpu_run.tgz"
}

step() {  # NAME FUNCTION: runs it if --only asks, timing it into steps.tsv
  local name=$1 start=$SECONDS rc
  case " $only " in *" $name "*) ;; *) return 0 ;; esac
  echo "step $name ..." >&2
  "$2"
  rc=$?
  printf '%s\t%s\t%s\n' "$name" "$rc" "$((SECONDS - start))" >> "$out/steps.tsv"
  echo "step $name: rc $rc after $((SECONDS - start)) s" >&2
  pack
}

run_info() {
  { nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null \
      || echo "none (rehearsal on the CPU)"; } > "$results/gpus.txt"
  timeout "$(limit_s 60)" "$py" - "$mode" "$results/gpus.txt" > "$results/device.json" <<'EOF'
import importlib.util, json, platform, sys, time
import jax, keras, numpy, torch
import vaekit
from vaekit import hardware
mode, gpus_file = sys.argv[1:]
gpus = [line.strip() for line in open(gpus_file) if line.strip() and not line.startswith("none")]
print(json.dumps({
    "rehearsal": mode == "rehearse",
    "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    "gpus": gpus,
    "jax_devices": [str(device) for device in jax.devices()],
    "torch_cuda": torch.cuda.is_available(),
    "cpu": hardware.cpu_line(),
    "keras_from": keras.__file__,
    "tensorflow_installed": importlib.util.find_spec("tensorflow") is not None,
    "versions": {"python": platform.python_version(), "vaekit": vaekit.__version__,
                 "keras": keras.__version__, "jax": jax.__version__, "torch": torch.__version__,
                 "numpy": numpy.__version__},
}, indent=2))
EOF
}

run_throughput() {
  timeout "$(limit_s 120)" "$py" -m benchmarks.throughput --only vaekit,plain-keras,plain-torch \
    --backends jax,torch --repeats "$repeats" --steps "$steps" --warmup "$warmup" \
    --json "$results/throughput.json" > "$results/throughput.md" 2> "$results/throughput.log"
}

run_batches() {
  local batch rc=0
  for batch in 512 1024 2048; do
    timeout "$(limit_s 30)" "$py" -m benchmarks.throughput --only vaekit --batch "$batch" \
      --repeats 1 --steps "$batch_steps" --warmup "$batch_warmup" \
      --json "$results/batch-$batch.json" >> "$results/batches.md" 2>> "$results/batches.log" \
      || rc=$?
  done
  return $rc
}

run_seed() {
  # shellcheck disable=SC2086  # $limit is empty or two words
  timeout "$(limit_s 60)" "$py" -m vaekit.cli train --quiet --config configs/mnist_seed.yaml \
    --out "$results/runs/mnist_seed" $limit > "$results/mnist_seed.log" 2>&1
}

run_spread() {
  local count
  count=$("$py" -c 'import jax; print(sum(d.platform == "gpu" for d in jax.devices()))')
  if [ "$mode" = rehearse ]; then
    echo "rehearsal: JAX's CPU split into 2 devices stands in for 2 GPUs" > "$results/spread.txt"
    set -- --set train.device=cpu --set train.cpu_devices=2
  elif [ "${count:-0}" -lt 2 ]; then
    echo "not run: this machine has ${count:-0} GPU (the step needs 2)" > "$results/spread.txt"
    return 0
  else
    echo "2 of $count GPUs" > "$results/spread.txt"
  fi
  # shellcheck disable=SC2086
  timeout "$(limit_s 60)" "$py" -m vaekit.cli train --quiet --config configs/mnist_seed.yaml \
    --out "$results/runs/mnist_seed_spread" --set train.distribute=data_parallel "$@" $limit \
    > "$results/mnist_seed_spread.log" 2>&1
}

run_binarized() {
  local name rc=0
  train() {  # NAME [--set ...]: until TRAIN_SECONDS, then SIGTERM (checkpoint, rc 143)
    local name=$1; shift
    # shellcheck disable=SC2086
    timeout -s TERM "$train_seconds" "$py" -m vaekit.cli train --quiet \
      --config configs/binarized_mnist.yaml --out "$results/runs/$name" \
      --set train.epochs=1000 $limit "$@" > "$results/$name.log" 2>&1
    local code=$?
    [ $code -eq 0 ] || [ $code -eq 143 ] || [ $code -eq 124 ]  # stopped by the clock: expected
  }
  train binarized_vae & local vae=$!
  train binarized_iwae5 --set train.iw_samples=5 --set train.kl_schedule=constant & local iwae=$!
  wait $vae || rc=1
  wait $iwae || rc=1
  for name in binarized_vae binarized_iwae5; do
    cp "$results/runs/$name/metrics.csv" "$results/$name.metrics.csv" 2>/dev/null
    # shellcheck disable=SC2086
    timeout "$(limit_s 90)" "$py" -m vaekit.cli evaluate "$results/runs/$name" --quiet \
      --samples "$samples" --max-points "$max_points" $eval_limit \
      --out "$results/$name.evaluation.json" > "$results/$name.evaluate.log" 2>&1 &
  done
  for name in binarized_vae binarized_iwae5; do wait -n || rc=1; done
  return $rc
}

step info run_info
step throughput run_throughput
step batches run_batches
step seed run_seed
step spread run_spread
step binarized run_binarized
cp benchmarks/device_image.txt "$results/" && pack
cat "$out/steps.tsv"
! awk -F '\t' 'NR > 1 && $2 != 0 {bad = 1} END {exit !bad}' "$out/steps.tsv"
exit $?
}

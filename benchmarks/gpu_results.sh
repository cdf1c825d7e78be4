#!/usr/bin/env bash
# The training runs of docs/results.md on one GPU, all at once (each process leaves the GPU idle
# between its small kernels), with the PyTorch backend: each trains for at most TRAIN_SECONDS
# (then stops on SIGTERM with a checkpoint, which `vaekit plot` and `vaekit evaluate` read), then
# is evaluated in nats. Everything lands in OUT_DIR/runs; the logs say how far each got.
#
#   bash benchmarks/gpu_results.sh OUT_DIR [TRAIN_SECONDS] [K] [K_FIRST_1000]
set -u
out=${1:?usage: gpu_results.sh OUT_DIR [TRAIN_SECONDS] [K] [K_FIRST_1000]}
seconds=${2:-280}
samples=${3:-1000}
samples_first=${4:-5000}
extra=${EXTRA_SET:-}   # e.g. "--set data.limit=512" for a quick rehearsal on a CPU
py=${PYTHON:-python3}
export KERAS_BACKEND=${KERAS_BACKEND:-torch} PYTHONUNBUFFERED=1
mkdir -p "$out/runs"

train() {  # NAME CONFIG [--set ...]
  local name=$1 config=$2; shift 2
  local start=$SECONDS
  timeout -s TERM "$seconds" $py -m vaekit.cli train --quiet --config "configs/$config" \
    --out "$out/runs/$name" --set train.jit_compile=false "$@" $extra >"$out/runs/$name.log" 2>&1
  local rc=$?
  echo "$name: train rc $rc after $((SECONDS - start)) s" | tee -a "$out/status"
  [ -f "$out/runs/$name/model.keras" ] || $py -m vaekit.cli plot "$out/runs/$name" \
    >>"$out/runs/$name.log" 2>&1
}

evaluate() {  # NAME [--samples K --limit N --out FILE]
  local name=$1; shift
  local start=$SECONDS
  $py -m vaekit.cli evaluate "$out/runs/$name" --quiet --max-points 8192 "$@" \
    >>"$out/runs/$name.evaluate.log" 2>&1
  echo "$name: evaluate $* rc $? after $((SECONDS - start)) s" | tee -a "$out/status"
}

train binarized_vae binarized_mnist.yaml &
train binarized_iwae5 binarized_mnist.yaml --set train.iw_samples=5 \
  --set train.kl_schedule=constant &
train mnist_cb_z2 mnist_continuous_bernoulli.yaml &
train mnist_cb_z32 mnist_continuous_bernoulli.yaml --set model.z_dim=32 &
train fashion_cb_z2 fashion_mnist_continuous_bernoulli.yaml &
train fashion_cb_z32 fashion_mnist_continuous_bernoulli.yaml --set model.z_dim=32 &
# The keras.io example's set-up with three more seeds: how far seeds alone move its epoch-30 loss
# (train_step: the wiring PyTorch trains; all four train identically).
for seed in 1 2 3; do
  train keras_example_seed$seed keras_example.yaml --set train.seed=$seed \
    --set model.kl_strategy=train_step &
done
wait

for name in binarized_vae binarized_iwae5; do
  (evaluate $name --samples "$samples"
   evaluate $name --samples "$samples_first" --limit 1000 \
     --out "$out/runs/$name/evaluation_first1000.json") &
done
for name in mnist_cb_z2 mnist_cb_z32 fashion_cb_z2 fashion_cb_z32; do
  evaluate $name --samples "$samples" &
done
wait

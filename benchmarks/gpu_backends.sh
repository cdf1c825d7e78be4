#!/usr/bin/env bash
# Issue 16's GPU measurements in one go, on a machine with PyTorch and JAX on CUDA and no Keras or
# TensorFlow (the H100/H200 machines: Python 3.12, PyTorch 2.11, JAX 0.11.2), in about 9 minutes
# (120 + 105 + 60 + TRAIN_SECONDS + 90 s): run it with timeout_s 600. Not yet run: no GPU was
# lent to the session that wrote it.
#
#   1. throughput of the reference config (batch 128) on JAX and PyTorch: vaekit, plain Keras and
#      a plain eager PyTorch loop;
#   2. vaekit on JAX at batch 128 ... 2048: the batch size fastest per image;
#   3. the reference config's 6 epochs on JAX, against the seed table (loss 0.2013, bce 0.1998);
#   4. configs/binarized_mnist.yaml on JAX for TRAIN_SECONDS, then its test NLL (K = 5,000, all
#      10,000 test images); an IWAE-trained model (k = 5) alongside, with its curve.
#
# Here, first (once): bash benchmarks/gpu_backends.sh --wheels   (fills .whl/, git-ignored)
# There:              bash benchmarks/gpu_backends.sh "$OUT" [TRAIN_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--wheels" ]; then
  grep -qx '/.whl/' .git/info/exclude || echo /.whl/ >> .git/info/exclude
  rm -rf .whl && mkdir .whl
  .venv/bin/python -m pip wheel --quiet --no-deps --wheel-dir .whl .
  # Keras and what it and vaekit need that those machines lack (Python 3.12 wheels).
  .venv/bin/python -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d .whl \
    "keras==$(.venv/bin/python -c 'import keras; print(keras.__version__)')" \
    absl-py namex optree ml-dtypes h5py rich markdown-it-py mdurl pygments pyyaml pillow \
    matplotlib contourpy cycler fonttools kiwisolver pyparsing python-dateutil six packaging
  du -sh .whl
  exit 0
fi

out=${1:?usage: gpu_backends.sh OUT_DIR [TRAIN_SECONDS]   (or --wheels, here)}
seconds=${2:-150}
mkdir -p "$out"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
python3 -c 'import jax, torch; print("jax", jax.__version__, jax.devices(), "torch", torch.__version__)' \
  | tee -a "$out/gpu.txt"

# 1. Throughput, every implementation on each GPU backend (ms/step; s/epoch = 469 steps).
timeout 120 python3 -m benchmarks.throughput --only vaekit,plain-keras,plain-torch \
  --backends jax,torch --repeats 3 --steps 200 --warmup 20 --json "$out/throughput.json" \
  > "$out/throughput.md" 2> "$out/throughput.log" || echo "throughput: rc $?" >> "$out/status"

# 2. The batch size fastest per image, vaekit on JAX.
for batch in 512 1024 2048; do
  KERAS_BACKEND=jax timeout 35 python3 -m benchmarks.throughput --only vaekit --batch "$batch" \
    --repeats 1 --steps 100 --warmup 10 >> "$out/batches.md" 2>> "$out/batches.log" \
    || echo "batch $batch: rc $?" >> "$out/status"
done

# 3. The reference config's 6 epochs on JAX (the seed table: loss 0.2013, bce 0.1998, kl 0.00149).
start=$SECONDS
KERAS_BACKEND=jax timeout 60 python3 -m vaekit.cli train --config configs/mnist_seed.yaml \
  --out "$out/runs/mnist_seed" > "$out/mnist_seed.log" 2>&1 || echo "seed: rc $?" >> "$out/status"
echo "mnist_seed: $((SECONDS - start)) s" >> "$out/status"

# 4. Binarized MNIST to a test NLL, and IWAE (k = 5) beside it on the same GPU.
train() {  # NAME [--set ...]
  local name=$1; shift
  KERAS_BACKEND=jax timeout -s TERM "$seconds" python3 -m vaekit.cli train --quiet \
    --config configs/binarized_mnist.yaml --out "$out/runs/$name" "$@" \
    > "$out/$name.log" 2>&1 || echo "$name: train rc $?" >> "$out/status"
}
train binarized_vae --set train.epochs=1000 &
train binarized_iwae5 --set train.epochs=1000 --set train.iw_samples=5 --set train.kl_schedule=constant &
wait
for name in binarized_vae binarized_iwae5; do
  (KERAS_BACKEND=jax timeout 90 python3 -m vaekit.cli evaluate "$out/runs/$name" --samples 5000 \
     --max-points 65536 --out "$out/$name.evaluation.json" > "$out/$name.evaluate.log" 2>&1 \
     || echo "$name: evaluate rc $?" >> "$out/status") &
  cp "$out/runs/$name/metrics.csv" "$out/$name.metrics.csv" 2>/dev/null || true
done
wait
rm -rf "$out/runs"/*/checkpoints
cat "$out/status" 2>/dev/null || true

#!/usr/bin/env bash
# Kiln's main job on the bundled example model: build Kiln, show the model's graph as imported and as
# optimized (-O3, with per-pass timings), run it on a sample image with the reference evaluator, then train it
# on the bundled handwritten digits with the generated trainer (a line per epoch: loss, accuracy, samples/s;
# the held-out accuracy at the end), export the trained model to ONNX and run that.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
if [ -z "${JAVA_HOME:-}" ] || ! "$JAVA_HOME/bin/java" -version 2>&1 | grep -q 'version "\(2[5-9]\|[3-9][0-9]\)'; then
  export JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64
fi
export PATH="$JAVA_HOME/bin:$PATH"

echo "== building Kiln"
mvn -B -q package -DskipTests

model=examples/digits/model.onnx
echo
echo "== $model as imported"
./kiln inspect "$model"
echo
echo "== $model optimized at -O3"
./kiln inspect "$model" -O3 -v
echo
echo "== running it on examples/digits/sample_input.npy (reference evaluator)"
./kiln run "$model" --input examples/digits/sample_input.npy --output-dir target/digits-out --print
echo
echo "== training it on the bundled digits (examples/digits/data: 1514 training, 429 held-out images; generated trainer)"
data=examples/digits/data
./kiln train "$model" --x "$data/train-images.idx" --labels "$data/train-labels.idx" \
    --test-x "$data/test-images.idx" --test-labels "$data/test-labels.idx" \
    --loss ce --optimizer adam:lr=1e-2 --batch 32 --epochs 8 --print-every 48 \
    --export target/digits-trained.onnx
echo
echo "== the trained model, exported to ONNX, on the first 8 held-out digits (0 to 7; reference evaluator)"
./kiln run target/digits-trained.onnx --input examples/digits/data/test-first8.npy --output-dir target/digits-trained-out \
    --print

#!/usr/bin/env bash
# On the device machine (see bench/device_payload.sh): unpack whatever parts this call carried
# into .devcache (ignored, so it stays between calls), then, when sourced, point the engine at
# the data and put the carried airbench wheel on the path. Safe to run again.
for p in .devdata/p*; do
  [ -d "$p" ] && python3 "$p/device_pack.py" unpack "$p" .devcache
done
if [ -d .devmnist/MNIST/raw ]; then
  mkdir -p .devcache/webp/MNIST/raw
  for f in .devmnist/MNIST/raw/*.gz; do gunzip -c "$f" > ".devcache/webp/MNIST/raw/$(basename "$f" .gz)"; done
fi
if compgen -G ".whl/*.whl" > /dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
fi
export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
export CNN_DATA_DIR=$PWD/.devcache/webp CNN_CACHE_DIR=$PWD/.devcache/cnncache GRADIO_ANALYTICS_ENABLED=False

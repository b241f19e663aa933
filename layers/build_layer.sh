#!/usr/bin/env bash
# Build the predict function's dependency layer without Docker: pip downloads manylinux wheels
# for the Lambda runtime and architecture, then the tree is trimmed, stripped, byte-compiled
# when a matching interpreter exists, size-checked and zipped to
# layers/build/<runtime>-<arch>/layer.zip, the file the CDK app deploys.
#
#   ARCH=arm64|x86_64  RUNTIME=python3.12|python3.13|python3.14  PY=.venv/bin/python
#   BYTECODE_PYTHON=/path/to/python3.12   (optional; default: python<version> on PATH)
set -euo pipefail
cd "$(dirname "$0")/.."

ARCH=${ARCH:-arm64}
RUNTIME=${RUNTIME:-python3.12}
PY=${PY:-.venv/bin/python}
REQUIREMENTS=layers/requirements.txt
# Lambda's hard cap for function plus layers is 250 MB (262,144,000 bytes, 250 MiB) unzipped;
# layer plus function code stay within 230 MiB, leaving room for the code to grow.
MAX_UNZIPPED_MIB=${MAX_UNZIPPED_MIB:-230}

PY_VERSION=${RUNTIME#python}
case "$ARCH" in
  arm64) MACHINE=aarch64; STRIP=aarch64-linux-gnu-strip; BINUTILS=binutils-aarch64-linux-gnu ;;
  x86_64) MACHINE=x86_64; STRIP=x86_64-linux-gnu-strip; BINUTILS=binutils-x86-64-linux-gnu ;;
  *) echo "layer: ARCH must be arm64 or x86_64, got '$ARCH'" >&2; exit 2 ;;
esac
case "$PY_VERSION" in
  3.12|3.13|3.14) ;;
  *) echo "layer: RUNTIME must be python3.12, python3.13 or python3.14, got '$RUNTIME'" >&2; exit 2 ;;
esac

OUT=layers/build/$RUNTIME-$ARCH
ZIP=$OUT/layer.zip
STAMP=$OUT/.stamp

# A Python of the runtime's minor version, for bytecode: BYTECODE_PYTHON, then PATH, then pyenv.
find_bytecode_python() {
  local candidate
  for candidate in "${BYTECODE_PYTHON:-}" "python$PY_VERSION" \
    "$(pyenv root 2>/dev/null)"/versions/"$PY_VERSION".*/bin/"python$PY_VERSION"; do
    [[ -n "$candidate" ]] || continue
    if [[ $("$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) \
      == "$PY_VERSION" ]]; then
      command -v "$candidate"
      return
    fi
  done
}
BYTECODE_PYTHON=$(find_bytecode_python || true)
# The stamp covers every input, so an unchanged recipe is not rebuilt (or re-uploaded).
INPUTS=$(cat "$REQUIREMENTS" "$0"; echo "$ARCH $RUNTIME bytecode=${BYTECODE_PYTHON:+yes}")
HASH=$(printf '%s' "$INPUTS" | sha256sum | cut -d' ' -f1)

mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
# The predict function's code as the CDK app stages it (infra_cdk/function_source.py).
code_bytes() {
  "$PY" -c 'from infra_cdk.function_source import stage_predict_source as stage
print(sum(p.stat().st_size for p in stage().rglob("*") if p.is_file()))'
}
report() {
  local unzipped zipped code
  unzipped=$(du -sb "$OUT/python" | cut -f1)
  zipped=$(stat -c %s "$ZIP")
  code=$(code_bytes)
  echo "layer $RUNTIME/$ARCH: unzipped $(mib "$unzipped"), zipped $(mib "$zipped"); " \
    "function code $(mib "$code"); total unzipped $(mib $((unzipped + code)))" \
    "(limit ${MAX_UNZIPPED_MIB} MiB)"
  if (( unzipped + code > MAX_UNZIPPED_MIB * 1048576 )); then
    echo "layer: layer plus function code exceed ${MAX_UNZIPPED_MIB} MiB unzipped" >&2
    exit 1
  fi
}

if [[ -f "$STAMP" && -f "$ZIP" && "$(cat "$STAMP")" == "$HASH" ]]; then
  echo "layer $RUNTIME/$ARCH is up to date ($ZIP)"
  report
  exit 0
fi

rm -rf "$OUT"
mkdir -p "$OUT"
SITE=$OUT/python

# manylinux_2_28 and older: Lambda's Python 3.12+ runtimes run on Amazon Linux 2023 (glibc 2.34).
"$PY" -m pip install --quiet --disable-pip-version-check --no-compile \
  --only-binary=:all: --implementation cp --python-version "$PY_VERSION" \
  --platform "manylinux_2_28_$MACHINE" --platform "manylinux_2_27_$MACHINE" \
  --platform "manylinux_2_17_$MACHINE" --platform "manylinux2014_$MACHINE" \
  --target "$SITE" -r "$REQUIREMENTS"

# Every installed distribution must be pinned in the recipe: an unpinned transitive
# dependency would make two builds of the same recipe differ.
"$PY" - "$SITE" "$REQUIREMENTS" <<'EOF'
import re
import sys
from importlib.metadata import distributions

site, requirements = sys.argv[1], sys.argv[2]
norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()  # noqa: E731
pinned = {
    norm(re.split(r"[\[=<>~ ]", line, maxsplit=1)[0])
    for line in open(requirements)
    if line.strip() and not line.lstrip().startswith("#")
}
installed = {norm(d.metadata["Name"]) for d in distributions(path=[site])}
if unpinned := sorted(installed - pinned):
    sys.exit(f"layer: unpinned dependencies installed, add them to {requirements}: {unpinned}")
EOF

# Trim what never runs in Lambda: test suites (pandas/tests alone is most of pandas' sources,
# joblib's is named test), pytest conftest files, caches, C/Cython sources, templates and
# headers, meson build files, stubs.
find "$SITE" -depth -type d \( -name tests -o -name __pycache__ \) -exec rm -rf {} +
find "$SITE" -type f \( -name '*.pyc' -o -name '*.pyi' -o -name '*.pxd' -o -name '*.pyx' \
  -o -name '*.pxi' -o -name '*.tp' -o -name '*.c' -o -name '*.cpp' -o -name '*.h' \
  -o -name '*.hpp' -o -name meson.build -o -name conftest.py \) -delete
rm -rf "$SITE"/bin "$SITE"/numpy/_core/include "$SITE"/numpy/f2py/src "$SITE"/joblib/test

# botocore ships models for every AWS service (~28 MiB). Keep the models of the services the
# layer's functions call (tests/infra/test_layer_services.py checks this list against every
# boto3.client(...) in functions/ and modelship/) plus X-Ray, which Powertools' Tracer needs at
# init, and botocore's shared files. boto3 stays in the layer, pinned, so Lambda runs the
# tested SDK version rather than whatever the managed runtime carries this month.
BOTOCORE_SERVICES=(s3 sts xray lambda cloudwatch sns stepfunctions firehose)
for service_dir in "$SITE"/botocore/data/*/; do
  service=$(basename "$service_dir")
  [[ " ${BOTOCORE_SERVICES[*]} " == *" $service "* ]] || rm -rf "$service_dir"
done

# Strip symbol tables from extension modules. Never touch the vendored *.libs directories:
# auditwheel patched those libraries and stripping them breaks scipy's imports.
if ! command -v "$STRIP" >/dev/null && [[ $ARCH == x86_64 && $(uname -m) == x86_64 ]]; then
  STRIP=strip
fi
if ! command -v "$STRIP" >/dev/null && [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "layer: installing $BINUTILS for $STRIP"
  apt-get install -y -qq "$BINUTILS" >/dev/null || {
    apt-get update -qq >/dev/null && apt-get install -y -qq "$BINUTILS" >/dev/null
  } || true
fi
if command -v "$STRIP" >/dev/null; then
  find "$SITE" -name '*.so' -not -path '*.libs/*' -exec "$STRIP" --strip-unneeded {} +
else
  echo "layer: WARNING $STRIP not found (Debian: apt-get install $BINUTILS); not stripping" >&2
fi

# Byte-compile with the runtime's own Python version: /opt is read-only in Lambda, so without
# shipped bytecode every cold start recompiles numpy, scipy and scikit-learn. Sourceless
# (legacy-layout) .pyc files replace the .py sources: sources plus bytecode would not fit the
# size budget, and tracebacks still carry file names and line numbers.
if [[ -n "$BYTECODE_PYTHON" ]]; then
  "$BYTECODE_PYTHON" -m compileall -q -b -j 0 "$SITE" >/dev/null
  find "$SITE" -type f -name '*.py' -exec sh -c 'for f; do [ -f "${f}c" ] && rm "$f"; done' sh {} +
  echo "layer: byte-compiled with $BYTECODE_PYTHON"
else
  echo "layer: WARNING no Python $PY_VERSION interpreter found; the layer ships sources" \
    "without bytecode (set BYTECODE_PYTHON=/path/to/python$PY_VERSION)" >&2
fi

# Fixed timestamps and order make the zip, and so the CDK asset hash, reproducible.
"$PY" - "$OUT" <<'EOF'
import os
import sys
import zipfile

out = sys.argv[1]
with zipfile.ZipFile(f"{out}/layer.zip", "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
    for folder, dirs, files in os.walk(f"{out}/python"):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(folder, name)
            info = zipfile.ZipInfo(os.path.relpath(path, out), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if os.access(path, os.X_OK) else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(path, "rb") as src:
                zf.writestr(info, src.read(), compresslevel=9)
EOF

echo "$HASH" > "$STAMP"
report

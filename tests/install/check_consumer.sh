#!/usr/bin/env bash
# Installs the build into a scratch prefix and builds tests/install/consumer against it with
# find_package(stkit), then runs the consumer. Usage: check_consumer.sh BUILD_DIR
set -euo pipefail
build=$1
scratch=${STKIT_SCRATCH:?}
rm -rf "$scratch"
mkdir -p "$scratch"
cmake --install "$build" --prefix "$scratch/prefix" >/dev/null
cmake -S "$STKIT_SOURCE_DIR/tests/install/consumer" -B "$scratch/consumer" \
    -DCMAKE_PREFIX_PATH="$scratch/prefix" >/dev/null
cmake --build "$scratch/consumer" -j2 >/dev/null
test -f "$scratch/prefix/lib/cmake/stkit/stkitConfig.cmake"
test -f "$scratch/prefix/include/stkit/error.hpp"
"$scratch/consumer/consumer"

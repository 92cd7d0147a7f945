#!/usr/bin/env bash
# Regenerates the committed protobuf-c code from Schemas/fgraph.proto.
# Needs Debian's protobuf-c-compiler (protoc-c). Run from anywhere.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
protoc-c --proto_path="$root/Schemas" --c_out="$out" "$root/Schemas/fgraph.proto"
mkdir -p "$root/Sources/FGraphSchema/include"
cp "$out/fgraph.pb-c.c" "$root/Sources/FGraphSchema/fgraph.pb-c.c"
cp "$out/fgraph.pb-c.h" "$root/Sources/FGraphSchema/include/fgraph.pb-c.h"
# The .c includes "fgraph.pb-c.h"; SwiftPM puts include/ on the path.
echo "regenerated Sources/FGraphSchema from Schemas/fgraph.proto"

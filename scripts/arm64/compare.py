#!/usr/bin/env python3
"""Compares an aarch64 run's JSON lines with the x86 run of the same commit.

    compare.py REFERENCE.jsonl CANDIDATE.jsonl --min-cosine C [--label L]

Both are `facec run` / examples/embed.c output (one line per face). Faces
are matched by (photo file name, face_index); every face must be in both,
with identical facial_area (box and eyes: detection is integer-exact) and
face_confidence, and embeddings whose cosine is at least C. Prints one
summary line; exits 1 with the first faults named otherwise.
"""
import argparse, array, json, math, os, sys


def load(path):
    faces = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                faces[(os.path.basename(d["input"]), d["face_index"])] = d
    return faces


def float32(values):
    """The float32 values printed (shortest or %.9g: both name one float32)."""
    return array.array("f", values).tolist()


def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na > 0 and nb > 0 else (1.0 if a == b else 0.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("reference")
    ap.add_argument("candidate")
    ap.add_argument("--min-cosine", type=float, required=True)
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    ref, got = load(a.reference), load(a.candidate)
    faults = []
    if set(ref) != set(got):
        faults.append(f"faces differ: only in x86 {sorted(set(ref) - set(got))}, only in aarch64 {sorted(set(got) - set(ref))}")
    worst, identical = 1.0, 0
    for key in sorted(set(ref) & set(got)):
        r, g = ref[key], got[key]
        if r["facial_area"] != g["facial_area"]:
            faults.append(f"{key}: box {g['facial_area']} against x86 {r['facial_area']}")
        if r["face_confidence"] != g["face_confidence"]:
            faults.append(f"{key}: confidence {g['face_confidence']} against {r['face_confidence']}")
        if len(r["embedding"]) != len(g["embedding"]):
            faults.append(f"{key}: dimension {len(g['embedding'])} against {len(r['embedding'])}")
            continue
        c = cosine(r["embedding"], g["embedding"])
        identical += float32(r["embedding"]) == float32(g["embedding"])
        worst = min(worst, c)
        if not c >= a.min_cosine:
            faults.append(f"{key}: embedding cosine {c:.9f} < {a.min_cosine}")
    label = f"{a.label}: " if a.label else ""
    if faults:
        print(f"{label}FAILED", file=sys.stderr)
        for f in faults[:10]:
            print(f"  {f}", file=sys.stderr)
        sys.exit(1)
    print(f"{label}{len(ref)} faces, boxes/eyes/confidences identical, "
          f"embeddings worst cosine {worst:.9f} (min {a.min_cosine}), {identical} float32-identical")


if __name__ == "__main__":
    main()

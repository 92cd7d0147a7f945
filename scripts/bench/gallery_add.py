#!/usr/bin/env python3
"""What adding photos to a large embedded gallery costs: a full build of a
folder of N photos (default 10,000), a second run over the unchanged folder,
then one new photo added by re-running over the whole folder and by naming
only the new file. The claim checked: adding one photo costs one embedding,
not a rebuild.

    PY=/root/.cache/facec-fixtures-venv/bin/python   # Pillow + numpy (scripts/fixtures/requirements.txt)
    $PY scripts/bench/gallery_add.py out/deepid-random.fgraph [--photos 10000] [--threads 2]

The photos are made once (seeded, cached in --work): each is one of the
JPEGs of ../shared/faces scaled to 200 px on its long side, with its own
brightness and a little noise so that every file is distinct, in N/10 person
folders (DIR/PERSON/photo.jpg). The model should carry the face detector
(`facec convert ... --detector opencv`), as users run it.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[2]


def make_photos(work: Path, count: int, faces: Path, seed: int) -> Path:
    root = work / f"photos-{count}-s{seed}"
    done = root / ".complete"
    if done.exists():
        return root
    if root.exists():
        shutil.rmtree(root)
    sources = sorted(p for p in faces.glob("*.jpg") if Image.open(p).format == "JPEG")
    bases = []
    for p in sources:
        im = Image.open(p).convert("RGB")
        im.thumbnail((200, 200))
        bases.append(np.asarray(im, dtype=np.float32))
    rng = np.random.default_rng(seed)
    for i in range(count):
        person = root / f"person{i // 10:05d}"
        person.mkdir(parents=True, exist_ok=True)
        base = bases[i % len(bases)]
        img = base * rng.uniform(0.85, 1.15) + rng.normal(0, 2.0, base.shape)
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(person / f"photo{i:05d}.jpg", quality=90)
    done.write_text("")
    return root


def timed(cmd: list[str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if r.returncode not in (0, 1):
        sys.exit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr}")
    return dt, r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--photos", type=int, default=10000)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", default="/root/.cache/facec-bench/gallery-add")
    ap.add_argument("--faces", default=str(REPO.parent / "shared" / "faces"))
    ap.add_argument("--facec", default=str(REPO / ".build/release/facec"))
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    photos = make_photos(work, args.photos, Path(args.faces), args.seed)
    print(f"photos: {args.photos} in {photos} ({time.perf_counter() - t0:.1f} s to make or find)", flush=True)

    gallery = work / "gallery.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(gallery) + suffix).unlink(missing_ok=True)
    new_dir = photos / "person-new"
    shutil.rmtree(new_dir, ignore_errors=True)
    fx, th = args.facec, ["--threads", str(args.threads)]

    rows = []
    def step(name: str, cmd: list[str]) -> None:
        dt, line = timed(cmd)
        rows.append({"step": name, "seconds": dt, "summary": line})
        print(f"{name:<44} {dt:9.2f} s   {line}", flush=True)

    step(f"build: {args.photos} photos", [fx, "gallery", "add", args.model, str(gallery), str(photos), *th])
    step("again, folder unchanged", [fx, "gallery", "add", args.model, str(gallery), str(photos), *th])
    new_dir.mkdir()
    src = sorted(photos.glob("person00000/*.jpg"))[0]
    im = Image.open(src)
    new_photo = new_dir / "new.jpg"
    mirrored = np.ascontiguousarray(np.asarray(im)[:, ::-1])
    Image.fromarray(mirrored).save(new_photo, quality=90)  # distinct content, still a face
    step("one new photo, whole folder given", [fx, "gallery", "add", args.model, str(gallery), str(photos), *th])
    new2 = new_dir / "new2.jpg"
    Image.fromarray((mirrored * 0.9).astype(np.uint8)).save(new2, quality=90)
    step("one new photo, only its path given", [fx, "gallery", "add", args.model, str(gallery), str(new2), "--person", "person-new", *th])
    single = work / "single.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(single) + suffix).unlink(missing_ok=True)
    new3 = new_dir / "new3.jpg"
    Image.fromarray((mirrored * 0.8).astype(np.uint8)).save(new3, quality=90)
    step("reference: one photo into an empty gallery", [fx, "gallery", "add", args.model, str(single), str(new3), *th])
    step("stats", [fx, "gallery", "stats", str(gallery)])
    shutil.rmtree(new_dir, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"photos": args.photos, "threads": args.threads, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Nearest-neighbour search over a synthetic face gallery: facec's embedded exact
search against Faiss (flat and HNSW) and PostgreSQL + pgvector (exact and HNSW),
measured in one run with the same thread counts.

Setup (a venv outside the repo with PostgreSQL + pgvector, psycopg, numpy, faiss-cpu):

    scripts/pgvector-server.sh install-bench
    PY=/root/.cache/facec-pg-venv/bin/python     # $FACEC_PG_VENV/bin/python
    nice -n 10 $PY scripts/bench/gallery_search.py --quick
    nice -n 10 $PY scripts/bench/gallery_search.py --sizes 100000,1000000 --vgg --json out/gallery.json

Galleries are synthetic and seeded, written once as float32 .npy files to --cache:
identities are clusters (a random centre per person, 1 + Poisson(7) photos per
person = centre + noise), passed through a ReLU like a network's post-ReLU
features: "deepid" is DeepID-like (dim 160, half the outputs non-zero; cosine
about 0.77 within a person and 0.40 between people), "vgg" is VGG-Face fc7-like
(dim 4096, about a quarter non-zero; 0.66 within, 0.23 between). The gallery
rows are in random order. Queries are held-out photos (fresh noise) of 100
gallery identities. The exact top 10 (cosine) from Faiss's flat index is the
ground truth for recall@10. With about 8 photos per person, ranks 9-10 are
often strangers at nearly equal distances, which makes recall@10 hard for graph
indexes on large galleries (0.98 needs a wide search at 1M): a pessimistic case.

Each gallery's table notes when other processes kept a core busy (sampled before
and after it): figures with more threads than idle cores are then unreliable.

Engines (rows of each table):
  facec      `facec gallery bench GALLERY.npy QUERIES.npy --top 10 --metric cosine
             --threads T --ids OUT.npy`: one JSON line (single_ms_per_query =
             queries one at a time, batch_ms_per_query = all at once), top-10
             row indices in OUT.npy. Skipped (with the reason) when the binary or
             the subcommand is missing; never estimated.
  faiss flat IndexFlatIP over L2-normalised vectors (= cosine), omp threads = T;
             single = a loop of nq=1 searches, batch = one search of all queries.
  faiss hnsw IndexHNSWFlat (inner product, normalised vectors), M=32,
             efConstruction from --faiss-efc (the first that reaches the target
             recall with efSearch <= --faiss-ef-cap; the last one is swept to
             2048), efSearch = the smallest of the sweep reaching --target-recall.
  pg exact   pgvector sequential scan, ORDER BY embedding <=> q LIMIT 10, index
             scans off, max_parallel_workers_per_gather = T-1.
  pg hnsw    pgvector HNSW (vector_cosine_ops, m=--pg-m, ef_construction=--pg-efc, built with
             max_parallel_maintenance_workers = build threads - 1, under
             --pg-hnsw-timeout), hnsw.ef_search raised until recall >= target.
             pgvector indexes at most 2,000 dimensions of `vector`: n/a at 4096.
  PostgreSQL rows are one query per round trip over loopback TCP (a prepared
  statement); they have no batch column. Latencies: mean, median and p95 of the
  single queries.

Build times are taken with --build-threads (default: the largest of --threads).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
PG_SCRIPT = REPO / "scripts" / "pgvector-server.sh"
CHUNK = 65536  # generation chunk: part of the seeded stream, keep fixed

KINDS = {
    # name: dim, scale of the shared mean, ReLU threshold, within-person noise
    "deepid": dict(dim=160, mu=0.5, bias=0.0, sigma=0.7),
    "vgg": dict(dim=4096, mu=0.5, bias=0.8, sigma=0.7),
}


def log(msg: str) -> None:
    print(time.strftime("%H:%M:%S ") + msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ galleries

def gallery_paths(cache: Path, kind: str, n: int, queries: int, seed: int) -> dict:
    dim = KINDS[kind]["dim"]
    stem = f"{kind}{dim}_n{n}_s{seed}"
    return {
        "gallery": cache / f"{stem}_gallery.npy",
        "queries": cache / f"{stem}_q{queries}_queries.npy",
        "truth": cache / f"{stem}_q{queries}_top10.npy",
    }


def save_atomic(path: Path, arr: np.ndarray) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        np.save(f, arr)
    os.replace(tmp, path)


def make_gallery(kind: str, n: int, nq: int, seed: int, paths: dict) -> None:
    p = KINDS[kind]
    dim = p["dim"]
    rng = np.random.default_rng([seed, dim, n])
    # Identities: 1 + Poisson(7) photos each, until n photos.
    counts = 1 + rng.poisson(7, size=n // 4 + 16)
    k = int(np.searchsorted(np.cumsum(counts), n) + 1)
    labels = rng.permutation(np.repeat(np.arange(k), counts[:k])[:n])
    mu = rng.standard_normal(dim, dtype=np.float32) * np.float32(p["mu"])
    centres = rng.standard_normal((k, dim), dtype=np.float32)
    sigma, bias = np.float32(p["sigma"]), np.float32(p["bias"])

    def photos(ids: np.ndarray) -> np.ndarray:
        x = centres[ids] + mu
        x += sigma * rng.standard_normal(x.shape, dtype=np.float32)
        x -= bias
        np.maximum(x, 0, out=x)
        dead = ~x.any(axis=1)  # an all-zero row has no cosine: keep one unit alive
        x[dead, 0] = 0.01
        return x

    tmp = paths["gallery"].with_name(paths["gallery"].name + f".tmp{os.getpid()}")
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n, dim))
    for s in range(0, n, CHUNK):
        out[s:s + CHUNK] = photos(labels[s:s + CHUNK])
    out.flush()
    del out
    os.replace(tmp, paths["gallery"])
    present = np.unique(labels)
    qids = rng.choice(present, size=nq, replace=len(present) < nq)
    save_atomic(paths["queries"], photos(qids))


def normalised(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x / norms, dtype=np.float32)


def recall_at_10(found: np.ndarray, truth: np.ndarray) -> float:
    hits = 0
    for f, t in zip(found, truth):
        hits += len(set(int(i) for i in f[:10] if i >= 0) & set(int(i) for i in t[:10]))
    return hits / (10 * len(truth))


def lat_stats(lat_s: list[float]) -> dict:
    ms = sorted(x * 1000 for x in lat_s)
    p95 = ms[min(len(ms) - 1, math.ceil(0.95 * len(ms)) - 1)]
    return {"single_ms_mean": statistics.fmean(ms), "single_ms_p50": statistics.median(ms), "single_ms_p95": p95}


# ---------------------------------------------------------------------- facec

def run_facec(args, paths: dict, truth: np.ndarray, threads: int, workdir: Path) -> dict:
    exe = Path(args.facec)
    row = {"engine": "facec", "mode": "exact (embedded)", "threads": threads}
    if not exe.is_file() or not os.access(exe, os.X_OK):
        row["skipped"] = f"no executable at {exe}"
        return row
    ids_out = workdir / f"facec_ids_t{threads}.npy"
    ids_out.unlink(missing_ok=True)
    cmd = [str(exe), "gallery", "bench", str(paths["gallery"]), str(paths["queries"]),
           "--top", "10", "--threads", str(threads), "--ids", str(ids_out)]
    row["command"] = " ".join(cmd)
    t0 = time.perf_counter()
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=args.facec_timeout)
    except subprocess.TimeoutExpired:
        row["skipped"] = f"timed out after {args.facec_timeout} s"
        return row
    row["wall_s"] = time.perf_counter() - t0
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or r.stdout.strip().splitlines() or ["no output"])[-1]
        row["skipped"] = f"exit {r.returncode}: {last[:200]}"
        return row
    js = None
    for line in reversed(r.stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                js = json.loads(line)
                break
            except json.JSONDecodeError:
                pass
    need = ["n", "dim", "queries", "threads", "single_ms_per_query", "batch_ms_per_query"]
    if js is None or any(k not in js for k in need):
        row["skipped"] = "no JSON line with " + ", ".join(need) + " on stdout"
        return row
    row["facec_json"] = js
    row["single_ms_mean"] = float(js["single_ms_per_query"])
    row["batch_ms_per_query"] = float(js["batch_ms_per_query"])
    if not ids_out.is_file():
        row["recall_note"] = "no --ids file written"
    else:
        ids = np.load(ids_out)
        if ids.shape != truth.shape:
            row["recall_note"] = f"--ids shape {ids.shape}, expected {truth.shape}"
        else:
            row["recall_at_10"] = recall_at_10(ids, truth)
    return row


# ---------------------------------------------------------------------- faiss

def time_faiss(index, qn: np.ndarray, reps: int) -> tuple[dict, np.ndarray]:
    for i in range(min(5, len(qn))):  # warm-up
        index.search(qn[i:i + 1], 10)
    lat = []
    for i in range(len(qn)):
        t0 = time.perf_counter()
        index.search(qn[i:i + 1], 10)
        lat.append(time.perf_counter() - t0)
    out = lat_stats(lat)
    index.search(qn, 10)
    batch = []
    for _ in range(reps):
        t0 = time.perf_counter()
        _, ids = index.search(qn, 10)
        batch.append(time.perf_counter() - t0)
    out["batch_ms_per_query"] = statistics.median(batch) * 1000 / len(qn)
    return out, ids


def faiss_flat(faiss, gn, qn, truth, threads_list, reps) -> list[dict]:
    rows = []
    faiss.omp_set_num_threads(max(threads_list))
    t0 = time.perf_counter()
    index = faiss.IndexFlatIP(gn.shape[1])
    index.add(gn)
    build = time.perf_counter() - t0
    for t in threads_list:
        faiss.omp_set_num_threads(t)
        stats, ids = time_faiss(index, qn, reps)
        rows.append({"engine": "faiss", "mode": "IndexFlatIP (exact)", "threads": t, **stats,
                     "recall_at_10": recall_at_10(ids, truth), "build_s": build})
    return rows


FAISS_EF = [16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048]


def faiss_hnsw(faiss, gn, qn, truth, args) -> tuple[list[dict], dict]:
    sweep = {"builds": []}
    chosen = None
    for efc in args.faiss_efc:
        faiss.omp_set_num_threads(args.build_threads)
        index = faiss.IndexHNSWFlat(gn.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = efc
        t0 = time.perf_counter()
        index.add(gn)
        build = time.perf_counter() - t0
        log(f"  faiss hnsw M=32 efC={efc}: built in {build:.1f} s ({args.build_threads} threads)")
        last = efc == args.faiss_efc[-1]
        points = []
        for ef in FAISS_EF:
            if ef > args.faiss_ef_cap and not last:
                break  # cheaper to build better than to search this wide: next efConstruction
            index.hnsw.efSearch = ef
            _, ids = index.search(qn, 10)
            rec = recall_at_10(ids, truth)
            points.append({"efSearch": ef, "recall_at_10": rec})
            if rec >= args.target_recall:
                break
        sweep["builds"].append({"efConstruction": efc, "build_s": build, "build_threads": args.build_threads,
                                "sweep": points})
        best = max(points, key=lambda p: (p["recall_at_10"], -p["efSearch"]))
        reached = best["recall_at_10"] >= args.target_recall
        chosen = {"efConstruction": efc, "efSearch": next(p["efSearch"] for p in points if p["recall_at_10"] == best["recall_at_10"]),
                  "build_s": build, "target_reached": reached}
        log(f"  faiss hnsw efC={efc}: " + ", ".join(f"ef{p['efSearch']}={p['recall_at_10']:.3f}" for p in points))
        if reached or last:
            break
        del index
    index.hnsw.efSearch = chosen["efSearch"]
    sweep["chosen"] = chosen
    rows = []
    for t in args.threads:
        faiss.omp_set_num_threads(t)
        stats, ids = time_faiss(index, qn, args.reps)
        mode = f"IndexHNSWFlat M=32 efC={chosen['efConstruction']} efS={chosen['efSearch']}"
        if not chosen["target_reached"]:
            mode += " (target recall not reached)"
        rows.append({"engine": "faiss", "mode": mode, "threads": t, **stats,
                     "recall_at_10": recall_at_10(ids, truth), "build_s": chosen["build_s"],
                     "build_threads": args.build_threads, "efConstruction": chosen["efConstruction"],
                     "efSearch": chosen["efSearch"]})
    del index
    return rows, sweep


# ------------------------------------------------------------------- pgvector

class PgServer:
    """scripts/pgvector-server.sh start/stop around a temporary data directory."""

    def __init__(self, tmp_parent: str | None):
        self.tmp = tempfile.mkdtemp(prefix="facec-pgbench-", dir=tmp_parent)
        self.data = os.path.join(self.tmp, "data")
        r = subprocess.run(["bash", str(PG_SCRIPT), "start", self.data], capture_output=True, text=True)
        if r.returncode != 0:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise RuntimeError((r.stderr.strip().splitlines() or ["pgvector-server.sh start failed"])[-1])
        self.url = r.stdout.strip()

    def stop(self) -> None:
        subprocess.run(["bash", str(PG_SCRIPT), "stop", self.data], capture_output=True, text=True)
        shutil.rmtree(self.tmp, ignore_errors=True)


def vec_text(v: np.ndarray) -> str:
    return "[" + ",".join(map(repr, v.tolist())) + "]"


def pg_copy_binary(cur, table: str, g: np.ndarray) -> None:
    n, dim = g.shape
    row = np.dtype([("nf", ">i2"), ("l1", ">i4"), ("id", ">i4"), ("l2", ">i4"),
                    ("dim", ">i2"), ("unused", ">i2"), ("v", ">f4", (dim,))])
    step = max(1, (64 << 20) // row.itemsize)
    with cur.copy(f"COPY {table} (id, embedding) FROM STDIN (FORMAT BINARY)") as cp:
        cp.write(b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0))
        for s in range(0, n, step):
            e = min(n, s + step)
            buf = np.empty(e - s, dtype=row)
            buf["nf"] = 2
            buf["l1"] = 4
            buf["id"] = np.arange(s, e)
            buf["l2"] = 4 + 4 * dim
            buf["dim"] = dim
            buf["unused"] = 0
            buf["v"] = g[s:e]
            cp.write(buf.tobytes())
        cp.write(struct.pack("!h", -1))


def pg_run_queries(conn, table: str, qtext: list[str], tag: str) -> tuple[list[float], np.ndarray]:
    # One prepared statement per configuration (tag): a cached generic plan keeps
    # the settings it was planned under (max_parallel_workers_per_gather, ...).
    sql = f"SELECT id FROM {table} ORDER BY embedding <=> %s::vector LIMIT 10 /* {tag} */"
    with conn.cursor() as cur:
        for q in qtext[:3]:  # warm-up (and prepare)
            cur.execute(sql, (q,), prepare=True)
            cur.fetchall()
        lat, ids = [], np.full((len(qtext), 10), -1, dtype=np.int64)
        for i, q in enumerate(qtext):
            t0 = time.perf_counter()
            cur.execute(sql, (q,), prepare=True)
            res = cur.fetchall()
            lat.append(time.perf_counter() - t0)
            ids[i, :len(res)] = [r[0] for r in res]
    return lat, ids


def pg_plan(conn, table: str) -> str:
    """The generic plan, as the prepared statements run it."""
    with conn.cursor() as cur:
        cur.execute(f"EXPLAIN (COSTS OFF, GENERIC_PLAN) SELECT id FROM {table} ORDER BY embedding <=> $1::vector LIMIT 10")
        lines = [r[0].strip() for r in cur.fetchall()]
    return " / ".join(x for x in lines if not x.startswith(("Sort Key", "Order By")))


PG_EF = [40, 64, 100, 160, 250, 400, 640, 1000]


def pgvector_rows(args, url: str, kind: str, g: np.ndarray, q: np.ndarray, truth: np.ndarray) -> tuple[list[dict], dict]:
    import psycopg
    n, dim = g.shape
    table = f"facec_bench_{kind}_{n}"
    info: dict = {"table": table}
    rows: list[dict] = []
    qtext = [vec_text(v) for v in q]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET jit = off")
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"CREATE TABLE {table} (id int4 NOT NULL, embedding vector({dim})) WITH (autovacuum_enabled = off)")
        t0 = time.perf_counter()
        with conn.cursor() as cur:
            pg_copy_binary(cur, table, g)
        info["copy_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        conn.execute(f"VACUUM (ANALYZE) {table}")
        info["vacuum_analyze_s"] = time.perf_counter() - t0
        with conn.cursor() as cur:
            cur.execute(f"SELECT pg_total_relation_size('{table}')")
            info["table_bytes"] = cur.fetchone()[0]
        log(f"  pgvector: COPY {n} rows in {info['copy_s']:.1f} s, vacuum/analyze {info['vacuum_analyze_s']:.1f} s, "
            f"{info['table_bytes'] / 1e6:.0f} MB")

        # Exact: sequential scan.
        conn.execute("SET enable_indexscan = off")
        conn.execute("SET enable_bitmapscan = off")
        nq_exact = min(len(qtext), args.pg_exact_queries)
        for t in args.threads:
            conn.execute(f"SET max_parallel_workers_per_gather = {t - 1}")
            plan = pg_plan(conn, table)
            lat, ids = pg_run_queries(conn, table, qtext[:nq_exact], f"exact t={t}")
            rows.append({"engine": "pgvector", "mode": "exact (seq scan)", "threads": t, **lat_stats(lat),
                         "recall_at_10": recall_at_10(ids, truth[:nq_exact]), "queries": nq_exact, "plan": plan})
            log(f"  pgvector exact T={t}: {rows[-1]['single_ms_mean']:.2f} ms/q, recall {rows[-1]['recall_at_10']:.3f} [{plan}]")
        conn.execute("RESET enable_indexscan")
        conn.execute("RESET enable_bitmapscan")

        # HNSW.
        hn: dict = {"m": args.pg_m, "ef_construction": args.pg_efc, "build_threads": args.build_threads}
        hmode = f"hnsw m={args.pg_m} efc={args.pg_efc}"
        info["hnsw"] = hn
        if dim > 2000:
            hn["skipped"] = f"pgvector's HNSW indexes at most 2,000 dimensions of vector (4,000 of halfvec); dim {dim}"
        elif n > args.pg_hnsw_max:
            hn["skipped"] = f"n > --pg-hnsw-max {args.pg_hnsw_max}"
        if "skipped" in hn:
            rows.append({"engine": "pgvector", "mode": hmode, "threads": max(args.threads),
                         "skipped": hn["skipped"]})
            log(f"  pgvector hnsw: skipped: {hn['skipped']}")
        else:
            conn.execute(f"SET maintenance_work_mem = '{args.pg_maintenance_work_mem}'")
            conn.execute(f"SET max_parallel_maintenance_workers = {args.build_threads - 1}")
            conn.execute(f"SET statement_timeout = {int(args.pg_hnsw_timeout * 1000)}")
            t0 = time.perf_counter()
            try:
                conn.execute(f"CREATE INDEX {table}_hnsw ON {table} USING hnsw (embedding vector_cosine_ops) "
                             f"WITH (m = {args.pg_m}, ef_construction = {args.pg_efc})")
                hn["build_s"] = time.perf_counter() - t0
            except psycopg.errors.QueryCanceled:
                hn["skipped"] = f"build cancelled after --pg-hnsw-timeout {args.pg_hnsw_timeout:.0f} s"
            finally:
                conn.execute("SET statement_timeout = 0")
            if "skipped" in hn:
                rows.append({"engine": "pgvector", "mode": hmode, "threads": max(args.threads),
                             "skipped": hn["skipped"]})
                log(f"  pgvector hnsw: {hn['skipped']}")
            else:
                with conn.cursor() as cur:
                    cur.execute(f"SELECT pg_relation_size('{table}_hnsw')")
                    hn["index_bytes"] = cur.fetchone()[0]
                log(f"  pgvector hnsw: built in {hn['build_s']:.1f} s ({args.build_threads} threads), "
                    f"{hn['index_bytes'] / 1e6:.0f} MB")
                conn.execute("SET enable_seqscan = off")
                conn.execute("SET max_parallel_workers_per_gather = 0")
                sweep = []
                chosen = None
                for ef in PG_EF:
                    conn.execute(f"SET hnsw.ef_search = {ef}")
                    lat, ids = pg_run_queries(conn, table, qtext, f"hnsw sweep ef={ef}")
                    rec = recall_at_10(ids, truth)
                    sweep.append({"ef_search": ef, "recall_at_10": rec, **lat_stats(lat)})
                    chosen = ef
                    if rec >= args.target_recall:
                        break
                hn["sweep"] = sweep
                hn["ef_search"] = chosen
                hn["target_reached"] = sweep[-1]["recall_at_10"] >= args.target_recall
                if not hn["target_reached"]:  # the best of the sweep
                    chosen = max(sweep, key=lambda p: p["recall_at_10"])["ef_search"]
                    hn["ef_search"] = chosen
                log("  pgvector hnsw: " + ", ".join(f"ef{p['ef_search']}={p['recall_at_10']:.3f}" for p in sweep))
                conn.execute(f"SET hnsw.ef_search = {chosen}")
                plan = pg_plan(conn, table)
                hn["plan"] = plan
                mode = f"{hmode} ef_search={chosen}"
                if not hn["target_reached"]:
                    mode += " (target recall not reached)"
                for t in args.threads:
                    conn.execute(f"SET max_parallel_workers_per_gather = {t - 1}")
                    lat, ids = pg_run_queries(conn, table, qtext, f"hnsw ef={chosen} t={t}")
                    rows.append({"engine": "pgvector", "mode": mode, "threads": t, **lat_stats(lat),
                                 "recall_at_10": recall_at_10(ids, truth), "build_s": hn["build_s"],
                                 "build_threads": args.build_threads, "ef_search": chosen, "plan": plan})
                conn.execute("RESET enable_seqscan")
        if not args.keep_tables:
            conn.execute(f"DROP TABLE {table}")
    return rows, info


# --------------------------------------------------------------------- output

def fmt(x, spec=".3f") -> str:
    return "-" if x is None else format(x, spec)


def table_text(g: dict) -> str:
    lines = [f"== {g['kind']} n={g['n']:,} dim={g['dim']} queries={g['queries']} "
             f"(gallery {g['n'] * g['dim'] * 4 / 1e6:,.1f} MB float32) =="]
    hdr = f"{'engine / mode':<58} {'thr':>3} {'single ms/q':>11} {'p50':>8} {'p95':>8} {'batch ms/q':>10} {'recall@10':>9} {'build s':>8}"
    lines += [hdr, "-" * len(hdr)]
    for r in g["rows"]:
        name = f"{r['engine']} {r['mode']}"
        if "skipped" in r:
            lines.append(f"{name:<58} {r['threads']:>3}  skipped: {r['skipped']}")
            continue
        lines.append(f"{name:<58} {r['threads']:>3} {fmt(r.get('single_ms_mean')):>11} {fmt(r.get('single_ms_p50')):>8} "
                     f"{fmt(r.get('single_ms_p95')):>8} {fmt(r.get('batch_ms_per_query')):>10} "
                     f"{fmt(r.get('recall_at_10')):>9} {fmt(r.get('build_s'), '.2f'):>8}")
    rat = g.get("ratios", {})
    if rat:
        parts = [f"T={t}: single {fmt(v.get('single'), '.2f')}, batch {fmt(v.get('batch'), '.2f')}" for t, v in rat.items()]
        lines.append("facec / faiss flat (ms ratio, < 1 = facec faster): " + "; ".join(parts))
    else:
        lines.append("facec / faiss flat: n/a (facec skipped)")
    for note in g.get("notes", []):
        lines.append("note: " + note)
    return "\n".join(lines)


def busy_cores(seconds: float = 1.0) -> float | None:
    """Cores kept busy by other processes, sampled while this one sleeps."""
    def snap():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + (v[4] if len(v) > 4 else 0)
        return sum(v) - idle, sum(v)
    try:
        b0, t0 = snap()
        time.sleep(seconds)
        b1, t1 = snap()
    except OSError:
        return None
    return (b1 - b0) / max(1, t1 - t0) * (os.cpu_count() or 1)


def machine_info() -> dict:
    info = {"python": platform.python_version(), "nproc": os.cpu_count()}
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info["numpy"] = np.__version__
    return info


# ----------------------------------------------------------------------- main

def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--sizes", default="1000,10000,100000,1000000",
                    help="DeepID-like (dim 160) gallery sizes, comma-separated ('' for none)")
    ap.add_argument("--vgg", action="store_true", help="also the VGG-Face fc7-like gallery (dim 4096, --vgg-size)")
    ap.add_argument("--vgg-size", type=int, default=100000)
    ap.add_argument("--quick", action="store_true", help="DeepID-like 1,000 and 10,000 only")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--build-threads", type=int, default=None, help="threads for index builds (default: max of --threads)")
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", default="/root/.cache/facec-bench/gallery")
    ap.add_argument("--facec", default=str(REPO / ".build/release/facec"))
    ap.add_argument("--facec-timeout", type=float, default=3600)
    ap.add_argument("--engines", default="facec,faiss-flat,faiss-hnsw,pg",
                    help="any of facec, faiss-flat, faiss-hnsw, pg")
    ap.add_argument("--pg", default=None, help="an existing server's URL (pgvector installed); default: start one "
                    "with scripts/pgvector-server.sh in a temporary directory")
    ap.add_argument("--pg-tmp", default=None, help="parent directory of the temporary data directory")
    ap.add_argument("--pg-hnsw-max", type=int, default=10**9, help="largest n to build pgvector HNSW on")
    ap.add_argument("--pg-hnsw-timeout", type=float, default=600, help="seconds; a longer HNSW build is cancelled")
    ap.add_argument("--pg-exact-queries", type=int, default=10**9, help="at most this many queries for pgvector exact")
    ap.add_argument("--pg-maintenance-work-mem", default="4GB")
    ap.add_argument("--pg-m", type=int, default=16, help="pgvector HNSW m (pgvector's default 16)")
    ap.add_argument("--pg-efc", type=int, default=64, help="pgvector HNSW ef_construction (pgvector's default 64)")
    ap.add_argument("--keep-tables", action="store_true")
    ap.add_argument("--faiss-efc", default="40,100,200", help="HNSW efConstruction values tried in order")
    ap.add_argument("--faiss-ef-cap", type=int, default=512,
                    help="largest efSearch tried before building with the next efConstruction (the last one goes to 2048)")
    ap.add_argument("--target-recall", type=float, default=0.98)
    ap.add_argument("--reps", type=int, default=5, help="repetitions of each batch search (median taken)")
    ap.add_argument("--json", default=None, help="write everything here (rewritten after each gallery)")
    args = ap.parse_args(argv)
    args.threads = [int(t) for t in args.threads.split(",") if t]
    args.build_threads = args.build_threads or max(args.threads)
    args.faiss_efc = [int(x) for x in args.faiss_efc.split(",") if x]
    args.engines = set(e.strip() for e in args.engines.split(",") if e.strip())
    unknown = args.engines - {"facec", "faiss-flat", "faiss-hnsw", "pg"}
    if unknown:
        ap.error(f"unknown engines: {', '.join(sorted(unknown))}")
    galleries = []
    if args.quick:
        galleries = [("deepid", 1000), ("deepid", 10000)]
    else:
        galleries = [("deepid", int(s)) for s in args.sizes.split(",") if s.strip()]
        if args.vgg:
            galleries.append(("vgg", args.vgg_size))
    if not galleries:
        ap.error("no gallery selected")
    args.galleries = galleries
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        import faiss
    except ImportError:
        print("gallery_search: faiss is missing: run scripts/pgvector-server.sh install-bench and use "
              "$FACEC_PG_VENV/bin/python (default /root/.cache/facec-pg-venv/bin/python)", file=sys.stderr)
        return 1
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    result = {"machine": machine_info(), "args": {k: (sorted(v) if isinstance(v, set) else v) for k, v in vars(args).items()},
              "galleries": []}
    result["machine"]["faiss"] = faiss.__version__
    result["machine"]["faiss_compile_options"] = faiss.get_compile_options()

    server = None
    pg_url = args.pg
    work = Path(tempfile.mkdtemp(prefix="facec-gbench-"))
    try:
        if "pg" in args.engines and not pg_url:
            try:
                server = PgServer(args.pg_tmp)
                pg_url = server.url
                log(f"pgvector server: {pg_url}")
            except Exception as e:  # noqa: BLE001
                log(f"pgvector: skipped ({e})")
                result["pg_skipped"] = str(e)
        if pg_url:
            import psycopg
            with psycopg.connect(pg_url, autocommit=True) as c:
                result["machine"]["postgres"] = c.execute("SHOW server_version").fetchone()[0]
                v = c.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
                result["machine"]["pgvector"] = v[0] if v else None

        for kind, n in args.galleries:
            dim = KINDS[kind]["dim"]
            paths = gallery_paths(cache, kind, n, args.queries, args.seed)
            if not (paths["gallery"].is_file() and paths["queries"].is_file()):
                log(f"{kind} n={n}: generating into {cache}")
                t0 = time.perf_counter()
                make_gallery(kind, n, args.queries, args.seed, paths)
                log(f"  generated in {time.perf_counter() - t0:.1f} s")
            g = np.load(paths["gallery"])
            q = np.load(paths["queries"])
            assert g.shape == (n, dim) and q.shape == (args.queries, dim)
            gn, qn = normalised(g), normalised(q)
            if paths["truth"].is_file():
                truth = np.load(paths["truth"])
            else:
                faiss.omp_set_num_threads(max(args.threads))
                ix = faiss.IndexFlatIP(dim)
                ix.add(gn)
                _, truth = ix.search(qn, 10)
                del ix
                save_atomic(paths["truth"], truth.astype(np.int64))
            busy_before = busy_cores()
            gres = {"kind": kind, "n": n, "dim": dim, "queries": args.queries, "seed": args.seed,
                    "generator": KINDS[kind], "files": {k: str(v) for k, v in paths.items()}, "rows": [], "notes": []}
            log(f"{kind} n={n} dim={dim}")

            if "facec" in args.engines:
                for t in args.threads:
                    row = run_facec(args, paths, truth, t, work)
                    gres["rows"].append(row)
                    if "skipped" in row:
                        print(f"facec: skipped ({row['skipped']})", flush=True)
                        log(f"  facec T={t}: skipped ({row['skipped']})")
                        break
                    log(f"  facec T={t}: single {row['single_ms_mean']:.3f} batch {row['batch_ms_per_query']:.3f} ms/q")
            if "faiss-flat" in args.engines:
                rows = faiss_flat(faiss, gn, qn, truth, args.threads, args.reps)
                gres["rows"] += rows
                for r in rows:
                    log(f"  faiss flat T={r['threads']}: single {r['single_ms_mean']:.3f} batch {r['batch_ms_per_query']:.3f} ms/q")
            if "faiss-hnsw" in args.engines:
                rows, sweep = faiss_hnsw(faiss, gn, qn, truth, args)
                gres["rows"] += rows
                gres["faiss_hnsw"] = sweep
            del gn
            if "pg" in args.engines:
                if pg_url:
                    for attempt in (1, 2):
                        try:
                            rows, info = pgvector_rows(args, pg_url, kind, g, q, truth)
                            gres["rows"] += rows
                            gres["pgvector"] = info
                            break
                        except Exception as e:  # noqa: BLE001 - e.g. the server was stopped under us
                            msg = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
                            log(f"  pgvector failed: {msg}")
                            if attempt == 1 and server is not None:
                                log("  restarting the pgvector server and trying this gallery again")
                                server.stop()
                                server = PgServer(args.pg_tmp)
                                pg_url = server.url
                                continue
                            gres["notes"].append(f"pgvector failed: {msg}")
                            gres["rows"].append({"engine": "pgvector", "mode": "-", "threads": max(args.threads),
                                                 "skipped": f"failed: {msg}"})
                            break
                else:
                    gres["notes"].append(f"pgvector skipped: {result.get('pg_skipped')}")
            del g

            fac = {r["threads"]: r for r in gres["rows"] if r["engine"] == "facec" and "skipped" not in r}
            flat = {r["threads"]: r for r in gres["rows"] if r["engine"] == "faiss" and r["mode"].startswith("IndexFlatIP")}
            gres["ratios"] = {str(t): {"single": fac[t]["single_ms_mean"] / flat[t]["single_ms_mean"],
                                       "batch": fac[t]["batch_ms_per_query"] / flat[t]["batch_ms_per_query"]}
                              for t in args.threads if t in fac and t in flat}
            gres["other_busy_cores"] = {"before": busy_before, "after": busy_cores()}
            worst = max((v for v in gres["other_busy_cores"].values() if v is not None), default=0.0)
            if worst >= 0.3:
                gres["notes"].append(f"other processes kept {worst:.1f} core(s) busy (sampled before and after this "
                                     "gallery): figures with more threads than idle cores are unreliable")
            gres["notes"].append(f"index builds use {args.build_threads} thread(s); PostgreSQL rows are one query per "
                                 "loopback round trip (no batch); single ms/q = mean")
            result["galleries"].append(gres)
            print(table_text(gres) + "\n", flush=True)
            if args.json:
                Path(args.json).parent.mkdir(parents=True, exist_ok=True)
                Path(args.json).write_text(json.dumps(result, indent=1, default=str) + "\n")
    finally:
        if server:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Writes the facec wheel (a zip, PEP 427) from python/facec and the shared
libraries given, with the standard library only: no build backend, no compiler.

The tag is honest about what the libraries need: manylinux_2_<N>_x86_64, N the
newest glibc symbol version any bundled library uses (objdump). The CPU floor
(x86-64-v3: AVX2 + FMA) has no wheel tag; the package checks it at import and
says so. Usage: make-wheel.py OUT_DIR LIB.so [LIB.so ...] (libfacec.so first)."""
import base64
import hashlib
import os
import re
import subprocess
import sys
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "python", "facec")


def version():
    text = open(os.path.join(PACKAGE, "__init__.py"), encoding="utf-8").read()
    return re.search(r'^__version__ = "([^"]+)"', text, re.M).group(1)


def glibc_floor(libs):
    newest = (2, 17)
    for lib in libs:
        out = subprocess.run(["objdump", "-T", lib], check=True, capture_output=True, text=True).stdout
        for major, minor in re.findall(r"GLIBC_(\d+)\.(\d+)", out):
            newest = max(newest, (int(major), int(minor)))
    return newest


def digest(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def main():
    out_dir, libs = sys.argv[1], sys.argv[2:]
    if not libs or os.path.basename(libs[0]) != "libfacec.so":
        sys.exit("usage: make-wheel.py OUT_DIR libfacec.so [bundled.so ...]")
    v = version()
    major, minor = glibc_floor(libs)
    tag = f"py3-none-manylinux_{major}_{minor}_x86_64"
    name = f"facec-{v}-{tag}.whl"
    info = f"facec-{v}.dist-info"
    files = []
    for f in sorted(os.listdir(PACKAGE)):
        if f.endswith(".py"):
            files.append((f"facec/{f}", open(os.path.join(PACKAGE, f), "rb").read()))
    for lib in libs:
        files.append((f"facec/_lib/{os.path.basename(lib)}", open(lib, "rb").read()))
    readme = open(os.path.join(ROOT, "python", "README.md"), encoding="utf-8").read()
    metadata = "\n".join([
        "Metadata-Version: 2.1", "Name: facec", f"Version: {v}",
        "Summary: deepface's represent, verify, extract_faces and find on facec's compiled face models",
        "License: see the facec repository", "Requires-Python: >=3.9", "Requires-Dist: numpy",
        "Provides-Extra: pandas", "Requires-Dist: pandas; extra == \"pandas\"",
        "Classifier: Operating System :: POSIX :: Linux",
        "Description-Content-Type: text/markdown", "", readme])
    wheel = "\n".join(["Wheel-Version: 1.0", "Generator: facec scripts/make-wheel.py", "Root-Is-Purelib: false",
                       f"Tag: {tag}", ""])
    files += [(f"{info}/METADATA", metadata.encode()), (f"{info}/WHEEL", wheel.encode()),
              (f"{info}/top_level.txt", b"facec\n")]
    record = "".join(f"{p},{digest(d)},{len(d)}\n" for p, d in files) + f"{info}/RECORD,,\n"
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, name)
    tmp = path + ".tmp"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for p, d in files + [(f"{info}/RECORD", record.encode())]:
            zi = zipfile.ZipInfo(p, date_time=(2026, 1, 1, 0, 0, 0))
            zi.external_attr = (0o755 if p.endswith(".so") or ".so." in p else 0o644) << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, d)
    os.replace(tmp, path)
    print(path)


if __name__ == "__main__":
    main()

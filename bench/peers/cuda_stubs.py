#!/usr/bin/env python3
"""Lets PyPI's PyTorch wheel run on the CPU without its several GB of NVIDIA CUDA packages.

PyPI's Linux x86-64 `torch` wheel is built with CUDA: its shared libraries (libtorch_cpu.so included) name
libcudart, cuBLAS, cuDNN, NCCL ... as NEEDED, so `import torch` fails when `torch` is installed with `--no-deps`.
The CPU code paths never call into those libraries, so this script builds, for each CUDA library that is named
but missing, a small stub with the same SONAME that defines every symbol (and symbol version) the torch
libraries take from it. Each stub function returns 100 (`cudaErrorNoDevice` / `CUDA_ERROR_NO_DEVICE`), so
`torch.cuda.is_available()` answers False; the error-string functions return a message. The stubs go into
`torch/lib` (on the libraries' RPATH, `$ORIGIN`), listed in `torch/lib/CUDA_STUBS.txt`.

Never use this for GPU work: install the real packages (`pip install torch` with its dependencies) instead.

Usage: python cuda_stubs.py [--torch-dir DIR] [--cc CC]   (default: the torch package of this interpreter,
found without importing it)
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

# Libraries that come from the system, never stubbed even when they look missing.
SYSTEM_PREFIXES = ("libc.so", "libm.so", "libdl.so", "librt.so", "libpthread.so", "ld-linux", "libstdc++.so",
                   "libgcc_s.so", "libz.so", "libquadmath.so", "libgomp.so", "libgfortran.so", "libutil.so")
MARKER = "CUDA_STUBS.txt"


def readelf(*args: str) -> str:
    return subprocess.run(["readelf", "-W", *args], check=True, capture_output=True, text=True).stdout


def needed(path: Path) -> list[str]:
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", readelf("-d", str(path)))


def version_needs(path: Path) -> dict[str, str]:
    """Maps each version name an object needs to the file (SONAME) that must define it."""
    result: dict[str, str] = {}
    current = None
    in_section = False
    for line in readelf("-V", str(path)).splitlines():
        if line.startswith("Version needs section"):
            in_section = True
            continue
        if in_section and line.startswith("Version") and "needs" not in line:
            in_section = False
        if not in_section:
            continue
        if m := re.search(r"File: (\S+)", line):
            current = m.group(1)
        elif (m := re.search(r"Name: (\S+)", line)) and current:
            result[m.group(1)] = current
    return result


def dynamic_symbols(path: Path) -> tuple[list[tuple[str, str | None]], set[str]]:
    """The object's undefined global (non-weak) symbols as (name, version), and the names it defines."""
    undefined: list[tuple[str, str | None]] = []
    defined: set[str] = set()
    for line in readelf("--dyn-syms", str(path)).splitlines():
        fields = line.split()
        if len(fields) < 8 or not fields[0].endswith(":"):
            continue
        _, _, _, kind, bind, _, ndx, name = fields[:8]
        base, _, version = name.partition("@")
        version = version.lstrip("@") or None
        if ndx == "UND":
            if bind == "GLOBAL" and base:
                undefined.append((base, version))
        elif bind in ("GLOBAL", "WEAK") and base:
            defined.add(base)
    return undefined, defined


def torch_dir_of_this_interpreter() -> Path:
    spec = importlib.util.find_spec("torch")  # finds the package without importing (and so loading) it
    if spec is None or not spec.submodule_search_locations:
        sys.exit("cuda_stubs: no torch package found for this interpreter")
    return Path(list(spec.submodule_search_locations)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--torch-dir", type=Path, help="the installed torch package (default: this interpreter's)")
    parser.add_argument("--cc", default=os.environ.get("CC", "cc"), help="the C compiler (default: $CC or cc)")
    args = parser.parse_args()
    torch_dir: Path = args.torch_dir or torch_dir_of_this_interpreter()
    lib_dir = torch_dir / "lib"
    objects = sorted(p for p in list(lib_dir.glob("*.so*")) + list(torch_dir.rglob("*.cpython-*.so")) if p.is_file())
    previous = (lib_dir / MARKER).read_text().split() if (lib_dir / MARKER).exists() else []
    objects = [p for p in objects if p.name not in previous]
    present = {p.name for p in lib_dir.iterdir()} - set(previous)
    ldconfig = shutil.which("ldconfig") or "/sbin/ldconfig"  # /sbin is not on every user's PATH
    system = subprocess.run([ldconfig, "-p"], capture_output=True, text=True).stdout

    missing: set[str] = set()
    versions: dict[str, str] = {}  # version name -> file
    undefined: list[tuple[str, str | None]] = []
    defined: set[str] = set()
    for path in objects:
        for name in needed(path):
            if name not in present and not name.startswith(SYSTEM_PREFIXES) and f"{name} " not in system:
                missing.add(name)
        versions.update(version_needs(path))
        u, d = dynamic_symbols(path)
        undefined += u
        defined |= d
    if not missing:
        print(f"cuda_stubs: nothing missing under {lib_dir}; no stubs needed")
        return

    # Symbols by stub: versioned ones go to the file their version belongs to; unversioned ones that no torch
    # library defines (system libraries' symbols are all versioned) go to every stub.
    per_file: dict[str, dict[str, str | None]] = {name: {} for name in missing}
    loose: set[str] = set()
    for name, version in undefined:
        if version:
            file = versions.get(version)
            if file in per_file:
                per_file[file][name] = version
        elif name not in defined:
            loose.add(name)
    # Unversioned names that the interpreter (the Python C API) or a system library defines are not ours.
    providers = [Path(os.path.realpath(sys.executable))]
    for lib in ("libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1", "libpthread.so.0", "libdl.so.2"):
        if m := re.search(rf"\s{re.escape(lib)} \(libc6,x86-64\) => (\S+)", system):
            providers.append(Path(m.group(1)))
    for lib in needed(providers[0]):
        if lib.startswith("libpython") and (m := re.search(rf"\s{re.escape(lib)} \(libc6,x86-64\) => (\S+)", system)):
            providers.append(Path(m.group(1)))
    if libdir := sysconfig.get_config_var("LIBDIR"):
        providers += [p for p in Path(libdir).glob("libpython3*.so*") if p.is_file()]
    for provider in providers:
        loose -= dynamic_symbols(provider)[1]
    loose = {name for name in loose if not name.startswith(("Py", "_Py"))}

    cc = shutil.which(args.cc)
    if cc is None:
        sys.exit(f"cuda_stubs: no C compiler ({args.cc}); install gcc (Debian: apt-get install gcc)")
    with tempfile.TemporaryDirectory() as work:
        for file, symbols in sorted(per_file.items()):
            for name in loose:
                symbols.setdefault(name, None)
            source = Path(work, "stub.c")
            script = Path(work, "stub.map")
            lines = ["/* generated by bench/peers/cuda_stubs.py: a CPU-only stand-in, never a CUDA library */",
                     'static const char message[] = "CUDA stub: the NVIDIA libraries are not installed (CPU only)";']
            for name in sorted(symbols):
                if re.search(r"GetErrorString|GetErrorName|GetString$", name) and not name.startswith("cuGet"):  # cuGet* return a code
                    lines.append(f"const char *{name}(void) {{ return message; }}")
                else:
                    lines.append(f"long {name}(void) {{ return 100; }}")
            source.write_text("\n".join(lines) + "\n")
            nodes: dict[str, list[str]] = {}
            for name, version in symbols.items():
                nodes.setdefault(version or "", []).append(name)
            unversioned = nodes.pop("", [])
            names = sorted(nodes) or [file]
            nodes.setdefault(names[0], []).extend(unversioned)
            script.write_text("".join(f"{v} {{ global: {''.join(n + '; ' for n in sorted(s))}}};\n" for v, s in nodes.items()))
            subprocess.run([cc, "-shared", "-fPIC", "-O1", "-w", f"-Wl,-soname,{file}",
                            f"-Wl,--version-script={script}", "-o", str(lib_dir / file), str(source)], check=True)
            print(f"cuda_stubs: {file}: {len(symbols)} symbols ({len(loose)} unversioned)")
    (lib_dir / MARKER).write_text("\n".join(sorted(set(previous) | missing)) + "\n")
    print(f"cuda_stubs: {len(missing)} stub libraries in {lib_dir} (listed in {MARKER})")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Packs the ffmpeg shared libraries a `vclip` binary needs, for a machine without ffmpeg.

The GPU machine has no ffmpeg. Debian's libavcodec pulls in ~130 libraries (160 MB: every
encoder, subtitle renderer, network protocol), more than a device call can carry. Decoding needs
few of them: this copies the ffmpeg libraries themselves plus a short list of decoders and
compressors, and replaces every other library in the closure by a *stub* of the same SONAME that
defines the symbols (with their version nodes) the kept libraries import from it. Debian links
ffmpeg with BIND_NOW, so those symbols must exist at load time; they are never called when
decoding H.264/HEVC/VP9/AV1 (ffmpeg's native decoders, or dav1d which is kept), except by
format probing (e.g. libgme's `gme_identify_header`): a stubbed function returns 0 (NULL, "no
match", "failed"), which ffmpeg treats as that component being unavailable.

Usage: tools/pack-ffmpeg-libs.py BINARY OUTDIR   (then LD_LIBRARY_PATH=OUTDIR BINARY ...)
"""
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict

# Loaded from the host system (glibc and the C/C++ runtimes every Linux has).
SYSTEM = re.compile(
    r"^(libc|libm|libmvec|libpthread|libdl|librt|libutil|libresolv|ld-linux-x86-64|libgcc_s|"
    r"libstdc\+\+)\.so"
)
# The GPU machine's own CUDA (driver, toolkit and cuDNN libraries): neither copied nor stubbed.
HOST_CUDA = re.compile(r"^lib(cuda|cudart|cublas|cublasLt|curand|nvrtc|cudnn)\.so")
# Copied: ffmpeg itself and what decoding the common formats uses.
KEEP = re.compile(
    r"^lib(avcodec|avformat|avfilter|avutil|swscale|swresample|postproc|dav1d|z|lzma|bz2|"
    r"zstd|xml2|drm|gme)\.so"
)


def needed(path):
    out = subprocess.run(["readelf", "-dW", path], capture_output=True, text=True, check=True)
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out.stdout)


def resolve(soname):
    out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.strip().split(" => ")
        if len(parts) == 2 and parts[0].split(" ")[0] == soname and "x86-64" in parts[0]:
            return parts[1]
    raise SystemExit(f"{soname}: not found by ldconfig")


def dynsyms(path):
    """(name, version, kind, defined, size) of the dynamic symbol table."""
    out = subprocess.run(["objdump", "-T", path], capture_output=True, text=True, check=True)
    syms = []
    for line in out.stdout.splitlines():
        m = re.match(
            r"^[0-9a-f]+ (.{7}) (\S+)\s+([0-9a-f]+)\s+(?:(\(?[^\s()]+\)?)\s+)?(\S+)$", line
        )
        if not m:
            continue
        flags, section, size, version, name = m.groups()
        version = (version or "").strip("()")
        if version in ("Base", ""):
            version = None
        kind = "O" if "O" in flags else "F"
        syms.append((name, version, kind, section != "*UND*", int(size, 16)))
    return syms


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    binary, outdir = sys.argv[1], sys.argv[2]
    shutil.rmtree(outdir, ignore_errors=True)
    os.makedirs(outdir)
    kept, stubbed, system = {}, {}, {}
    queue = list(needed(binary))
    while queue:
        so = queue.pop()
        if so in kept or so in stubbed or so in system or HOST_CUDA.match(so):
            continue
        path = resolve(so)
        if SYSTEM.match(so):
            system[so] = path
            continue
        if KEEP.match(so):
            kept[so] = path
            queue.extend(needed(path))
        else:
            stubbed[so] = path
    # What the kept libraries (and the binary) import, by name.
    wanted = defaultdict(set)
    for path in [binary, *kept.values()]:
        for name, version, _, defined, _ in dynsyms(path):
            if not defined:
                wanted[name].add(version)
    # A stub never shadows a symbol that a real library provides.
    provided = set()
    for path in [*kept.values(), *system.values()]:
        provided.update(name for name, _, _, defined, _ in dynsyms(path) if defined)
    total = 0
    for so, path in sorted(kept.items()):
        shutil.copy2(path, os.path.join(outdir, so), follow_symlinks=True)
        total += os.path.getsize(os.path.join(outdir, so))
    build = os.path.join(outdir, ".stubs")
    os.makedirs(build)
    for so, path in sorted(stubbed.items()):
        defs = {}
        for name, version, kind, defined, size in dynsyms(path):
            if (
                defined
                and name in wanted
                and name not in provided
                and (version in wanted[name] or None in wanted[name])
            ):
                defs[name] = (version, kind, size)
        versions = sorted({v for v, _, _ in defs.values() if v})
        # Every version node the library defines (the loader checks the ones referenced).
        for name, version, _, defined, _ in dynsyms(path):
            if defined and version and name == version and version not in versions:
                versions.append(version)
        src = []
        for name, (version, kind, size) in sorted(defs.items()):
            if kind == "O":
                src.append(f"char {name}[{max(size, 1)}];")
            else:
                src.append(f"long {name}(void) {{ return 0; }}")
        c = os.path.join(build, so + ".c")
        with open(c, "w") as f:
            f.write("\n".join(src) + "\n")
        cmd = ["gcc", "-shared", "-fPIC", "-O1", f"-Wl,-soname,{so}", "-o", os.path.join(outdir, so), c]
        if versions:
            vs = os.path.join(build, so + ".map")
            with open(vs, "w") as f:
                for v in versions:
                    names = [n for n, (ver, _, _) in defs.items() if ver == v]
                    body = "".join(f"{n};" for n in names)
                    f.write(f"{v} {{ global: {body} }};\n" if names else f"{v} {{ }};\n")
            cmd.insert(1, f"-Wl,--version-script={vs}")
        subprocess.run(cmd, check=True)
    shutil.rmtree(build)
    print(
        f"{outdir}: {len(kept)} libraries copied ({total / 1e6:.1f} MB), {len(stubbed)} stubbed: "
        + " ".join(sorted(stubbed))
    )


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Build the Linux packages: the onedir bundle, a .tar.gz and a .deb.

    python scripts/build_linux.py              # PyInstaller + dist/*.tar.gz + dist/*.deb + lintian
    python scripts/build_linux.py --baseline   # also build a bare PySide6 tray app, compare sizes
    python scripts/build_linux.py --no-build   # package an existing dist/mudameter

Outputs, with <v> the package's `__version__`:

    dist/mudameter/                            the bundle (`build.spec`)
    dist/mudameter-<v>-linux-x86_64.tar.gz     that folder, as `mudameter-<v>/`
    dist/mudameter_<v>_amd64.deb               /opt/mudameter, /usr/bin/mudameter, menu entry, icons
    dist/sizes.json                            the figures printed at the end

Run it with the project's virtualenv Python (it needs PyInstaller and PySide6).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from mudameter_desktop import APP_ID, APP_NAME, __version__  # noqa: E402

DIST = ROOT / "dist"
BUILD = ROOT / "build"
BUNDLE = DIST / APP_ID
BASELINE = BUILD / "baseline" / "dist" / "baseline-tray"
TEMPLATES = ROOT / "packaging" / "linux"
ARCHES = {"x86_64": ("x86_64", "amd64"), "aarch64": ("aarch64", "arm64")}
MAX_SIZE_RATIO = 1.25  # app bundle / bare tray bundle

# What the bundle needs from the system rather than carrying itself. PyInstaller
# leaves out glibc, libGL/libEGL and libxcb (they must match the host's X server
# and drivers); the rest are what Qt's xcb platform plugin, its font and D-Bus
# support link to. Bundled copies of some of them exist, but a system install
# keeps them patched, so they are declared too. The `t64` names are Debian 13 /
# Ubuntu 24.04's, the others Debian 12's.
DEPENDS = [
    "libc6 (>= 2.34)",
    "libegl1",
    "libgl1",
    "libfontconfig1",
    "libfreetype6",
    "libdbus-1-3",
    "libglib2.0-0t64 | libglib2.0-0",
    "libx11-6",
    "libx11-xcb1",
    "libxcb1",
    "libxcb-cursor0",
    "libxcb-icccm4",
    "libxcb-image0",
    "libxcb-keysyms1",
    "libxcb-randr0",
    "libxcb-render-util0",
    "libxcb-render0",
    "libxcb-shape0",
    "libxcb-shm0",
    "libxcb-sync1",
    "libxcb-util1",
    "libxcb-xfixes0",
    "libxcb-xkb1",
    "libxkbcommon0",
    "libxkbcommon-x11-0",
]

DESCRIPTION = f"""\
Description: meeting waste meter in the system tray
 {APP_NAME} measures how much of a meeting is wasted: each participant says
 whether they are speaking, engaged or disengaged, from the tray or from a
 phone browser on the LAN, and the app keeps per-minute counts, a history of
 meetings and a waste figure per meeting in a local SQLite file.
 .
 This package holds a self-contained build (Python and Qt included) in
 /opt/{APP_ID}."""


def tree_size(folder: Path) -> int:
    """Bytes in the regular files under `folder` (symlinks not followed)."""
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def installed_size_kib(root: Path) -> int:
    """`Installed-Size` as dpkg-gencontrol computes it: each file rounded up
    to a KiB, every other object (folders) one KiB; DEBIAN/ left out."""
    total = 0
    for path in [root, *root.rglob("*")]:
        if path.relative_to(root).parts[:1] == ("DEBIAN",):
            continue
        info = path.lstat()
        if path.is_symlink() or path.is_file():
            total += (info.st_size + 1023) // 1024
        else:
            total += 1
    return total


def pyinstaller(spec: Path, distpath: Path, workpath: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--clean",
            "--log-level",
            "WARN",
            "--distpath",
            str(distpath),
            "--workpath",
            str(workpath),
            str(spec),
        ],
        cwd=ROOT,
        check=True,
    )


def drop_build_machine_runpaths(bundle: Path) -> list[Path]:
    """Remove RUNPATHs that point at the build machine (e.g. a pyenv's lib/).

    The bootloader finds every library in _internal/ by itself; a leftover
    absolute path would only make the loader look on the user's disk first.
    `$ORIGIN`-relative paths (PySide6's) are kept. Needs `patchelf`.
    """
    patchelf = shutil.which("patchelf")
    if patchelf is None:
        sys.exit("patchelf is needed (apt-get install patchelf)")
    changed = []
    for path in sorted(bundle.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        with path.open("rb") as handle:
            if handle.read(4) != b"\x7fELF":
                continue
        found = subprocess.run(
            [patchelf, "--print-rpath", str(path)], capture_output=True, text=True, check=False
        )
        entries = [entry for entry in found.stdout.strip().split(":") if entry]
        if any(not entry.startswith("$ORIGIN") for entry in entries):
            kept = ":".join(entry for entry in entries if entry.startswith("$ORIGIN"))
            command = ["--set-rpath", kept] if kept else ["--remove-rpath"]
            subprocess.run([patchelf, *command, str(path)], check=True)
            changed.append(path)
    return changed


def make_tarball(arch: str) -> Path:
    """The bundle as `mudameter-<v>/` in a tar.gz, owned by root, with the icon."""
    target = DIST / f"{APP_ID}-{__version__}-linux-{arch}.tar.gz"
    top = f"{APP_ID}-{__version__}"

    def as_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    with tarfile.open(target, "w:gz", compresslevel=9) as tar:
        tar.add(BUNDLE, arcname=top, filter=as_root)
        icon = BUILD / "icons" / "hicolor" / "256x256" / "apps" / f"{APP_ID}.png"
        tar.add(icon, arcname=f"{top}/{APP_ID}.png", filter=as_root)
    return target


def fill(template: str) -> str:
    text = (TEMPLATES / template).read_text(encoding="utf-8")
    return text.replace("@APP_NAME@", APP_NAME).replace("@APP_ID@", APP_ID)


def normalise_modes(root: Path) -> None:
    """0755 for folders and executables (ELF or scripts), 0644 for the rest."""
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        if path.is_dir():
            path.chmod(0o755)
            continue
        with path.open("rb") as handle:
            magic = handle.read(4)
        executable = (
            magic == b"\x7fELF"
            and not path.name.endswith((".so", ".a"))
            and (".so." not in path.name)
        )
        path.chmod(0o755 if executable or magic[:2] == b"#!" else 0o644)


def man_page() -> str:
    """mudameter(1), written from the command line's own argparse definition."""
    from mudameter_desktop.__main__ import build_parser  # noqa: PLC0415 - after sys.path

    def roff(text: str) -> str:
        return text.replace("\\", "\\\\").replace("-", "\\-")

    parser = build_parser()
    lines = [
        f'.TH {APP_ID.upper()} 1 "" "{APP_ID} {__version__}" "User Commands"',
        ".SH NAME",
        f"{APP_ID} \\- measure wasted meeting time from the system tray",
        ".SH SYNOPSIS",
        f".B {APP_ID}",
        "[\\fIOPTION\\fR]...",
        ".SH DESCRIPTION",
        roff(parser.description or ""),
        "Without options it starts the tray app; with \\fB\\-\\-headless\\fR only the HTTP",
        "server, for a meeting-room PC or a server.",
        ".SH OPTIONS",
    ]
    for action in parser._actions:  # argparse has no public listing of its options
        flags = ", ".join(f"\\fB{roff(flag)}\\fR" for flag in action.option_strings)
        if action.metavar or action.nargs != 0:
            flags += f" \\fI{action.metavar or action.dest.upper()}\\fR"
        lines += [".TP", flags, roff(action.help or "")]
    lines += [
        ".SH FILES",
        "The database, the log and the settings live in the user's data, state and",
        "config folders (e.g. \\fI~/.local/share/mudameter\\fR), or all in the folder",
        "given with \\fB\\-\\-data\\-dir\\fR.",
    ]
    return "\n".join(lines) + "\n"


def make_deb(arch: str) -> Path:
    """Stage the package tree and build it with dpkg-deb (root-owned files)."""
    staging = BUILD / "deb" / f"{APP_ID}_{__version__}_{arch}"
    shutil.rmtree(staging, ignore_errors=True)
    opt = staging / "opt" / APP_ID
    shutil.copytree(BUNDLE, opt, symlinks=True)
    usr_bin = staging / "usr" / "bin"
    usr_bin.mkdir(parents=True)
    # A wrapper rather than a symlink: policy wants links between top-level
    # folders absolute, and an absolute one would not work from a `dpkg -x`
    # scratch root. The wrapper finds the bundle relative to itself.
    (usr_bin / APP_ID).write_text(fill("wrapper.sh.in"))
    share = staging / "usr" / "share"
    (share / "applications").mkdir(parents=True)
    (share / "applications" / f"{APP_ID}.desktop").write_text(fill("mudameter.desktop.in"))
    shutil.copytree(BUILD / "icons" / "hicolor", share / "icons" / "hicolor")
    doc = share / "doc" / APP_ID
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(fill("copyright.in"))
    changelog = (
        f"{APP_ID} ({__version__}) unstable; urgency=medium\n\n"
        f"  * Release {__version__}.\n\n"
        " -- Muda Meter maintainers <maintainers@mudameter.invalid>  "
        "Fri, 27 Nov 2026 00:00:00 +0000\n"
    )
    (doc / "changelog.gz").write_bytes(gzip.compress(changelog.encode(), 9, mtime=0))
    man = share / "man" / "man1"
    man.mkdir(parents=True)
    (man / f"{APP_ID}.1.gz").write_bytes(gzip.compress(man_page().encode(), 9, mtime=0))
    overrides = share / "lintian" / "overrides"
    overrides.mkdir(parents=True)
    (overrides / APP_ID).write_text(fill("lintian-overrides.in"))
    normalise_modes(staging)

    control = staging / "DEBIAN" / "control"
    control.parent.mkdir(mode=0o755)
    control.write_text(
        f"Package: {APP_ID}\n"
        f"Version: {__version__}\n"
        f"Architecture: {arch}\n"
        "Maintainer: Muda Meter maintainers <maintainers@mudameter.invalid>\n"
        f"Installed-Size: {installed_size_kib(staging)}\n"
        f"Depends: {', '.join(DEPENDS)}\n"
        "Section: utils\n"
        "Priority: optional\n"
        f"{DESCRIPTION}\n"
    )
    control.chmod(0o644)
    target = DIST / f"{APP_ID}_{__version__}_{arch}.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(staging), str(target)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return target


def lintian(deb: Path) -> bool:
    """Run lintian; True when it reports no errors (warnings are printed)."""
    if shutil.which("lintian") is None:
        print("lintian is not installed (apt-get install lintian): the .deb is unchecked")
        return False
    result = subprocess.run(
        ["lintian", "--fail-on", "error", "--no-tag-display-limit", str(deb)],
        capture_output=True,
        text=True,
        check=False,
    )
    print(result.stdout.strip() or "lintian: no tags")
    return result.returncode == 0


def mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-build", action="store_true", help="package the existing bundle")
    parser.add_argument(
        "--baseline", action="store_true", help="also build the bare PySide6 tray bundle"
    )
    args = parser.parse_args()
    machine = platform.machine()
    if sys.platform != "linux" or machine not in ARCHES:
        sys.exit(f"Linux x86_64 or aarch64 only (this is {sys.platform} {machine})")
    tar_arch, deb_arch = ARCHES[machine]

    if not args.no_build:
        pyinstaller(ROOT / "build.spec", DIST, BUILD / "pyinstaller")
    if not (BUNDLE / APP_ID).is_file():
        sys.exit(f"no bundle at {BUNDLE}: run without --no-build")
    if patched := drop_build_machine_runpaths(BUNDLE):
        print(f"RUNPATH: dropped the build machine's paths from {len(patched)} files")
    tarball = make_tarball(tar_arch)
    deb = make_deb(deb_arch)
    lintian_ok = lintian(deb)

    sizes: dict[str, object] = {
        "version": __version__,
        "bundle_bytes": tree_size(BUNDLE),
        "tar_gz_bytes": tarball.stat().st_size,
        "deb_bytes": deb.stat().st_size,
        "lintian_clean": lintian_ok,
    }
    print(f"bundle   {BUNDLE.relative_to(ROOT)}: {mib(tree_size(BUNDLE))}")
    print(f"tar.gz   {tarball.relative_to(ROOT)}: {mib(tarball.stat().st_size)}")
    print(f"deb      {deb.relative_to(ROOT)}: {mib(deb.stat().st_size)}")
    within = True
    if args.baseline:
        pyinstaller(ROOT / "packaging" / "baseline.spec", BASELINE.parent, BUILD / "baseline")
        baseline = tree_size(BASELINE)
        ratio = tree_size(BUNDLE) / baseline
        within = ratio <= MAX_SIZE_RATIO
        sizes |= {"baseline_bytes": baseline, "ratio": round(ratio, 3)}
        print(f"baseline {BASELINE.relative_to(ROOT)}: {mib(baseline)}")
        print(f"ratio    {ratio:.2f} (at most {MAX_SIZE_RATIO})")
    (DIST / "sizes.json").write_text(json.dumps(sizes, indent=2) + "\n")
    return 0 if lintian_ok and within else 1


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(main())

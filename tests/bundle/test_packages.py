"""The .deb and .tar.gz made by `scripts/build_linux.py`: contents, metadata, sizes."""

from __future__ import annotations

import re
import struct
import subprocess
import tarfile
from pathlib import Path

import pytest

from mudameter_desktop import APP_ID, APP_NAME, __version__
from tests.bundle.support import FIGURES, clean_env

pytestmark = pytest.mark.bundle

# What Qt's xcb platform plugin needs from the system (not bundled by PyInstaller).
XCB_RUNTIME = {
    "libc6",
    "libegl1",
    "libgl1",
    "libfontconfig1",
    "libdbus-1-3",
    "libxcb1",
    "libxcb-cursor0",
    "libxcb-icccm4",
    "libxcb-keysyms1",
    "libxkbcommon-x11-0",
}


@pytest.fixture(scope="module")
def deb_root(deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("deb-root")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return root


def control_field(deb: Path, name: str) -> str:
    return subprocess.run(
        ["dpkg-deb", "-f", str(deb), name], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_deb_command_runs_from_a_scratch_root(deb_root: Path) -> None:
    command = deb_root / "usr" / "bin" / APP_ID
    result = subprocess.run(
        [str(command), "--version"], capture_output=True, text=True, env=clean_env(), check=True
    )
    assert result.stdout.strip() == f"{APP_ID} {__version__}"
    assert (deb_root / "opt" / APP_ID / APP_ID).is_file()


def test_deb_metadata(deb: Path, deb_root: Path) -> None:
    assert control_field(deb, "Package") == APP_ID
    assert control_field(deb, "Version") == __version__
    assert control_field(deb, "Architecture") == "amd64"
    depends = {
        alternative.split()[0]
        for entry in control_field(deb, "Depends").split(",")
        for alternative in entry.split("|")
    }
    assert depends >= XCB_RUNTIME
    # dpkg's rule: each file rounded up to a KiB, every folder one KiB.
    expected = sum(
        (path.lstat().st_size + 1023) // 1024 if path.is_file() or path.is_symlink() else 1
        for path in [deb_root, *deb_root.rglob("*")]
    )
    assert int(control_field(deb, "Installed-Size")) == expected


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_deb_desktop_entry_icons_and_docs(deb_root: Path) -> None:
    entry = (deb_root / "usr" / "share" / "applications" / f"{APP_ID}.desktop").read_text()
    assert f"Name={APP_NAME}\n" in entry
    assert f"Exec={APP_ID}\n" in entry
    assert f"Icon={APP_ID}\n" in entry
    hicolor = deb_root / "usr" / "share" / "icons" / "hicolor"
    for size in (16, 32, 48, 128, 256, 512):
        assert png_size(hicolor / f"{size}x{size}" / "apps" / f"{APP_ID}.png") == (size, size)
    assert (hicolor / "scalable" / "apps" / f"{APP_ID}.svg").is_file()
    assert (deb_root / "usr" / "share" / "doc" / APP_ID / "copyright").is_file()
    assert (deb_root / "usr" / "share" / "man" / "man1" / f"{APP_ID}.1.gz").is_file()


def test_tarball_runs_where_unpacked(tarball: Path, tmp_path: Path) -> None:
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
        assert all(name.split("/")[0] == f"{APP_ID}-{__version__}" for name in names)
        archive.extractall(tmp_path, filter="tar")
    command = tmp_path / f"{APP_ID}-{__version__}" / APP_ID
    result = subprocess.run(
        [str(command), "--version"], capture_output=True, text=True, env=clean_env(), check=True
    )
    assert result.stdout.strip() == f"{APP_ID} {__version__}"


def test_lintian_clean_and_size_within_baseline(sizes: dict[str, object]) -> None:
    assert sizes["version"] == __version__
    assert sizes["lintian_clean"] is True
    assert "baseline_bytes" in sizes, "build with --baseline to compare sizes"
    bundle, baseline = int(str(sizes["bundle_bytes"])), int(str(sizes["baseline_bytes"]))
    ratio = bundle / baseline
    FIGURES["app bundle / bare tray bundle"] = (
        f"{bundle / 1e6:.1f} MB / {baseline / 1e6:.1f} MB = {ratio:.2f} (limit 1.25)"
    )
    FIGURES[".deb, .tar.gz"] = (
        f"{int(str(sizes['deb_bytes'])) / 1e6:.1f} MB, "
        f"{int(str(sizes['tar_gz_bytes'])) / 1e6:.1f} MB"
    )
    assert ratio <= 1.25


def _needed(path: Path) -> set[str]:
    """The ELF NEEDED entries of one file."""
    dynamic = subprocess.run(
        ["readelf", "--dynamic", str(path)], capture_output=True, text=True, check=True
    ).stdout
    return set(re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", dynamic))


def _owner(library: str, cache: str) -> str:
    """The Debian package that provides a library found by the dynamic loader."""
    found = re.search(rf"^\s*{re.escape(library)} \(libc6,x86-64[^)]*\) => (\S+)$", cache, re.M)
    if found is None:
        pytest.fail(f"{library} is not installed: the .deb's Depends must bring it")
    path = Path(found.group(1)).resolve()
    for candidate in (str(path), str(path).replace("/usr/lib/", "/lib/", 1), f"/usr{path}"):
        owner = subprocess.run(
            ["dpkg", "-S", candidate], capture_output=True, text=True, check=False
        )
        if owner.returncode == 0:
            return owner.stdout.split(":")[0]
    pytest.fail(f"no package owns {path}")


def test_every_system_library_the_bundle_links_to_is_declared(deb: Path, deb_root: Path) -> None:
    bundle = deb_root / "opt" / APP_ID
    files = [path for path in bundle.rglob("*") if path.is_file() and not path.is_symlink()]
    carried = {path.name for path in files}
    elf = [path for path in files if path.read_bytes()[:4] == b"\x7fELF"]
    from_system = set().union(*map(_needed, elf)) - carried
    cache = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    owners = {library: _owner(library, cache) for library in sorted(from_system)}
    depends = {
        alternative.split()[0]
        for entry in control_field(deb, "Depends").split(",")
        for alternative in entry.split("|")
    }
    undeclared = {library: owner for library, owner in owners.items() if owner not in depends}
    assert not undeclared, f"linked but not in Depends: {undeclared}"
    assert {
        "libGL.so.1",
        "libEGL.so.1",
        "libxcb.so.1",
    } <= from_system  # what Qt needs from the host

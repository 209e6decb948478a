"""Packaging: what the sdist and the wheels hold, and what cibuildwheel builds.

These tests need the source tree next to ``tests/``; run against an installed
wheel (cibuildwheel, ``scripts/build-wheels``) they skip.  The build tests need
``build`` (``pip install build``) and reach PyPI for the isolated build
environment; the cibuildwheel test needs ``cibuildwheel`` installed but no
network (it only prints build identifiers).
"""
from __future__ import annotations

import email.parser
import itertools
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODULES = ("_element_c", "_tokenizer_c", "_serializer_c", "_stanza_c", "_presence_c", "_muc_c")
MAX_WHEEL_BYTES = 2 * 1024 * 1024

# Every CPython cibuildwheel builds today, free-threaded 3.14t included.
PYTHONS = ("cp39", "cp310", "cp311", "cp312", "cp313", "cp314", "cp314t")
PLATFORM_TAGS = {
    "linux": [
        f"{libc}_{arch}"
        for libc in ("manylinux", "musllinux")
        for arch in ("x86_64", "aarch64", "i686")
    ],
    "macos": ["macosx_x86_64", "macosx_arm64"],
    "windows": ["win_amd64", "win_arm64", "win32"],
}

pytestmark = pytest.mark.skipif(
    not ((ROOT / "setup.py").is_file() and (ROOT / "fastxmpp" / "_element_c.pyx").is_file()),
    reason="needs the source tree (these tests are running against an installed wheel)",
)


def _clean_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "FASTXMPP_NO_EXTENSIONS" and not k.startswith("CIBW_")}
    env.update(extra)
    return env


def _run(cmd: list, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


# --------------------------------------------------------------------------
# cibuildwheel: the build matrix


def _cibuildwheel() -> list | None:
    exe = shutil.which("cibuildwheel")
    if exe:
        return [exe]
    try:
        import cibuildwheel  # noqa: F401
    except ImportError:
        return None
    return [sys.executable, "-m", "cibuildwheel"]


@pytest.mark.parametrize("plat", sorted(PLATFORM_TAGS))
def test_cibuildwheel_build_identifiers(plat):
    """Every supported CPython (3.9-3.14, 3.14t) on every wanted platform and arch, nothing else."""
    cmd = _cibuildwheel()
    if cmd is None:
        pytest.skip("cibuildwheel is not installed (pip install cibuildwheel)")
    proc = _run(
        cmd + ["--print-build-identifiers", "--platform", plat],
        cwd=ROOT,
        env=_clean_env(),
        timeout=120,
    )
    got = set(proc.stdout.split())
    want = {f"{py}-{tag}" for py, tag in itertools.product(PYTHONS, PLATFORM_TAGS[plat])}
    assert got == want, f"missing {sorted(want - got)}, unexpected {sorted(got - want)}"


# --------------------------------------------------------------------------
# sdist and wheels, built the way CI builds them: the wheel from the sdist


BUILD_LOGS: dict = {}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The sdist, a binary wheel (CPython only) and the pure wheel, each built from the sdist."""
    try:
        from build import ProjectBuilder  # noqa: F401  (PyPA's build, not a stray build/ directory)
    except ImportError:
        pytest.skip("the 'build' package is not installed (pip install build)")
    out = tmp_path_factory.mktemp("dist")
    proc = _run([sys.executable, "-m", "build", "--sdist", "--outdir", str(out / "sdist"), str(ROOT)],
                env=_clean_env(), timeout=600)
    BUILD_LOGS["sdist"] = proc.stdout + proc.stderr
    (sdist,) = (out / "sdist").glob("fastxmpp-*.tar.gz")
    with tarfile.open(sdist) as tf:
        tf.extractall(out / "src", **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    (srcdir,) = (out / "src").iterdir()

    wheels = {}
    builds = [("pure", {"FASTXMPP_NO_EXTENSIONS": "1"})]
    if platform.python_implementation() == "CPython":
        builds.insert(0, ("binary", {}))
    for kind, extra in builds:
        _run(
            [sys.executable, "-m", "build", "--wheel", "--outdir", str(out / kind), str(srcdir)],
            env=_clean_env(**extra),
            timeout=900,
        )
        (wheels[kind],) = (out / kind).glob("fastxmpp-*.whl")
    return sdist, wheels


def _wheel_names(path: Path) -> list:
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()


def _wheel_metadata(path: Path):
    with zipfile.ZipFile(path) as zf:
        (meta,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        return email.parser.Parser().parsestr(zf.read(meta).decode())


@pytest.mark.slow
def test_sdist_has_sources_and_nothing_generated(built):
    sdist, _ = built
    with tarfile.open(sdist) as tf:
        names = [n.split("/", 1)[1] for n in tf.getnames() if "/" in n]
    for needed in (
        "setup.py",
        "pyproject.toml",
        "README.md",
        "LICENSE",
        "PKG-INFO",
        "fastxmpp/__init__.py",
        "fastxmpp/_accel.py",
        "fastxmpp/_expat.pxd",
        "fastxmpp/_element_c.pxd",
        "fastxmpp/py.typed",
        "tests/conftest.py",
    ):
        assert needed in names, f"{needed} missing from the sdist"
    for mod in MODULES:
        assert f"fastxmpp/{mod}.pyx" in names
        assert f"fastxmpp/{mod}.pyi" in names
    generated = [n for n in names if n.endswith((".c", ".so", ".pyd", ".o", ".pyc", ".html"))]
    assert not generated, f"generated files in the sdist: {generated}"
    assert not [n for n in names if n.startswith(("build/", "dist/", "wheelhouse/", "fastxmpp/build/"))]


def _check_wheel_common(path: Path) -> list:
    names = _wheel_names(path)
    assert path.stat().st_size < MAX_WHEEL_BYTES, f"{path.name} is {path.stat().st_size} bytes"
    sources = [n for n in names if n.endswith((".pyx", ".pxd", ".c", ".h", ".cpp", ".html"))]
    assert not sources, f"sources in the wheel: {sources}"
    assert not [n for n in names if n.startswith("tests/") or "/tests/" in n], "tests in the wheel"
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert "fastxmpp/py.typed" in names
    for mod in MODULES:
        assert f"fastxmpp/{mod}.pyi" in names, f"{mod}.pyi stub missing"
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), "LICENSE not shipped"
    meta = _wheel_metadata(path)
    assert meta["Name"] == "fastxmpp"
    assert meta["Requires-Python"] == ">=3.9"
    assert meta["License-Expression"] == "MIT"
    assert "Typing :: Typed" in meta.get_all("Classifier")
    assert meta.get_all("Project-URL"), "no project URLs"
    return names


@pytest.mark.slow
def test_binary_wheel(built):
    _, wheels = built
    if "binary" not in wheels:
        pytest.skip("binary wheels are built on CPython only")
    path = wheels["binary"]
    names = _check_wheel_common(path)
    ext = ".pyd" if sys.platform == "win32" else ".so"
    for mod in MODULES:
        assert [n for n in names if n.startswith(f"fastxmpp/{mod}.") and n.endswith(ext)], f"{mod}{ext} missing"
    assert not path.name.endswith("-py3-none-any.whl")
    assert f"-cp{sys.version_info.major}{sys.version_info.minor}" in path.name


@pytest.mark.slow
def test_pure_wheel_is_py3_none_any(built):
    _, wheels = built
    path = wheels["pure"]
    names = _check_wheel_common(path)
    assert path.name.endswith("-py3-none-any.whl"), path.name
    assert not [n for n in names if n.endswith((".so", ".pyd", ".dll", ".dylib"))]
    with zipfile.ZipFile(path) as zf:
        (wheel_file,) = [n for n in zf.namelist() if n.endswith(".dist-info/WHEEL")]
        wheel = zf.read(wheel_file).decode()
    assert "Root-Is-Purelib: true" in wheel
    assert "Tag: py3-none-any" in wheel


# --------------------------------------------------------------------------
# What PyPI and the packaging linters say about the built files


@pytest.mark.slow
def test_sdist_builds_without_manifest_warnings(built):
    """Every MANIFEST.in pattern matches something: a stale pattern warns at each build."""
    log = BUILD_LOGS["sdist"]
    warnings = [line for line in log.splitlines()
                if "no files found matching" in line or "no previously-included" in line]
    assert not warnings, "\n".join(warnings)


def _tool(module: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{module} is not installed (scripts/test installs it)")
        pytest.skip(f"{module} is not installed (pip install {module.replace('_', '-')})")


@pytest.mark.slow
def test_twine_check_passes(built):
    """The metadata and the long description render on PyPI (``twine check --strict``)."""
    _tool("twine")
    sdist, wheels = built
    proc = _run([sys.executable, "-m", "twine", "check", "--strict", str(sdist),
                 *map(str, wheels.values())], timeout=300)
    assert proc.stdout.count("PASSED") == 1 + len(wheels), proc.stdout


@pytest.mark.slow
def test_check_wheel_contents_passes(built):
    """No duplicate files, no .pyc, no stray top-level packages, no empty package (check-wheel-contents)."""
    _tool("check_wheel_contents")
    _, wheels = built
    proc = _run([sys.executable, "-m", "check_wheel_contents", *map(str, wheels.values())], timeout=300)
    assert proc.stdout.count(": OK") == len(wheels), proc.stdout

"""The newcomer path: numba's cache stays out of the installed package (issue #14)."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(args, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, timeout=900, **kwargs)


def test_kernel_cache_is_in_the_user_cache_folder(tmp_path):
    """A fresh process: the kernels' cache goes to $XDG_CACHE_HOME/neurosim/numba (or
    $NEUROSIM_CACHE_DIR/numba), never next to the installed source; NUMBA_CACHE_DIR wins."""
    code = textwrap.dedent("""
        import neurosim, neurosim._numba as nn
        from neurosim.dendrites import _montecarlo as m
        kernels = [v for v in vars(m).values() if hasattr(v, "_cache") and v._cache is not None]
        paths = {type(k._cache._impl.locator).__name__ + ":" + k._cache._cache_path
                 for k in kernels}
        print(nn.CACHE_DIR)
        print(len(kernels))
        print(*sorted(paths), sep="\\n")
    """)
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_CACHE_DIR", "NEUROSIM_CACHE_DIR")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    out = _run([sys.executable, "-c", code], env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split("\n")
    assert lines[0] == str(tmp_path / "xdg" / "neurosim" / "numba")
    assert int(lines[1]) >= 3
    for line in filter(None, lines[2:]):
        assert str(tmp_path / "xdg" / "neurosim" / "numba") in line, line
    env["NEUROSIM_CACHE_DIR"] = str(tmp_path / "mine")
    out = _run([sys.executable, "-c", code], env=env, cwd=tmp_path)
    assert out.stdout.split("\n")[0] == str(tmp_path / "mine" / "numba"), out.stderr
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "numba-own")
    out = _run([sys.executable, "-c", code], env=env, cwd=tmp_path)
    lines = out.stdout.split("\n")
    assert lines[0] == "None" and all(str(tmp_path / "numba-own") in line
                                      for line in filter(None, lines[2:])), out.stdout


@pytest.mark.slow
def test_install_then_editable_install_imports_the_checkout(tmp_path):
    """``pip install .``, run a numba kernel, then ``pip install -e .`` in the same venv: the
    editable checkout is imported (the probe: a namespace package left by numba's cache files
    in site-packages shadowed it). Dependencies come from this interpreter (--no-deps)."""
    import numpy

    pytest.importorskip("setuptools", reason="pip install --no-build-isolation needs setuptools")
    deps = Path(numpy.__file__).resolve().parents[1]
    if (deps / "neurosim").exists():
        pytest.skip(f"{deps} holds a neurosim install of its own")
    venv = tmp_path / "venv"
    assert _run([sys.executable, "-m", "venv", "--without-pip", str(venv)]).returncode == 0
    py = venv / "bin" / "python"
    site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
                     ).stdout.strip())
    (site / "_deps.pth").write_text(f"{deps}\n")
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_CACHE_DIR", "NEUROSIM_CACHE_DIR", "PYTHONPATH")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    pip = [str(py), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "-q"]
    out = _run([*pip, str(ROOT)], env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    use = ("import neurosim.dendrites as d, numpy as np\n"
           "from neurosim.dendrites import _montecarlo as m\n"
           "print(d.__file__)\n")
    paths = ("print(*[k._cache._cache_path for k in vars(m).values() "
             "if getattr(k, '_cache', None) is not None])")
    out = _run([str(py), "-c", use + paths], env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    installed, caches = out.stdout.split("\n")[:2]
    assert installed.startswith(str(site))
    assert caches and all(c.startswith(str(tmp_path / "cache")) for c in caches.split()), caches
    leftovers = [p for p in (site / "neurosim").rglob("*") if p.suffix in (".nbi", ".nbc")]
    assert leftovers == []
    out = _run([*pip, "-e", str(ROOT)], env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    out = _run([str(py), "-c", use + "from neurosim.dendrites import ActiveDendritesClassifier"],
               env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert str(ROOT / "neurosim" / "dendrites") in out.stdout
    assert not (site / "neurosim").exists()

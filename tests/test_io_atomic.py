"""Atomic writes: success replaces, failure keeps the old file and leaves no temporary behind."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import textwrap

import pytest

from heatmap.io.atomic import OutputPathError, atomic_write, check_output_path


def test_success_replaces_content(tmp_path):
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")
    with atomic_write(target) as fh:
        fh.write(b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]


def test_exception_keeps_old_file(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("good")
    with pytest.raises(RuntimeError), atomic_write(target, "w") as fh:
        fh.write("partial")
        raise RuntimeError("boom")
    assert target.read_text() == "good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_directory_and_missing_parent_are_named(tmp_path):
    with pytest.raises(OutputPathError, match="is a directory"):
        check_output_path(tmp_path)
    with pytest.raises(OutputPathError, match="does not exist"):
        check_output_path(tmp_path / "nope" / "x.png")


def test_bad_mode():
    with pytest.raises(ValueError, match="mode"):
        with atomic_write("x", "a"):  # type: ignore[arg-type]
            pass


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="needs RLIMIT_FSIZE")
def test_full_disk_keeps_old_file(tmp_path):
    target = tmp_path / "big.bin"
    target.write_bytes(b"good")
    code = textwrap.dedent(
        f"""
        import resource, signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))
        from heatmap.io.atomic import atomic_write
        try:
            with atomic_write({str(target)!r}) as fh:
                fh.write(b"x" * 100_000)
        except OSError as exc:
            print("OSError", exc.errno)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ.copy())
    assert "OSError" in out.stdout, out.stderr
    assert target.read_bytes() == b"good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.bin"]

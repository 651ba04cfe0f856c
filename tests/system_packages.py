"""Debian packages that some end-to-end tests drive (chromium for the web page, blender for the BVH import),
installed from Debian's package registry when missing: the machines run as root with apt-get."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def _apt_get(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["apt-get", "-o", "DPkg::Lock::Timeout=300", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
        timeout=1200,
    )


def _output(result: subprocess.CompletedProcess) -> str:
    return f"$ {' '.join(result.args)}  (exit {result.returncode})\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"


def debian_program(package: str, program: str) -> str:
    """The path of `program` (e.g. /usr/bin/chromium), after `apt-get install -y PACKAGE` if it is missing; the
    package lists are updated first only if the install fails for the lack of them. A failure fails the test."""
    path = Path(program)
    if path.exists():
        return str(path)
    if shutil.which("apt-get") is None:
        pytest.fail(f"{program} is missing and there is no apt-get to install {package}")
    install = _apt_get("install", "-y", package)
    outputs = [_output(install)]
    lists_missing = any(
        hint in install.stdout + install.stderr
        for hint in ("Unable to locate package", "has no installation candidate", "Failed to fetch")
    )
    if install.returncode != 0 and lists_missing:
        update = _apt_get("update")
        install = _apt_get("install", "-y", package)
        outputs += [_output(update), _output(install)]
    if install.returncode != 0 or not path.exists():
        pytest.fail(f"could not install {package}:\n" + "\n".join(outputs), pytrace=False)
    return str(path)

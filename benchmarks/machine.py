"""Describe the machine a benchmark ran on: cores, CPU model, Python/numpy versions and the BLAS kernel."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np

# Set on some processors in this environment for old OpenBLAS builds; they change the kernel numpy runs.
OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")


def cpu_model() -> str:
    """The first `model name` of /proc/cpuinfo, else platform.processor()."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def blas_info() -> list[dict[str, object]]:
    """Which BLAS library and kernel (`architecture`) numpy runs, from threadpoolctl."""
    from threadpoolctl import threadpool_info

    return [
        {
            k: info.get(k)
            for k in ("internal_api", "version", "architecture", "num_threads", "threading_layer")
        }
        for info in threadpool_info()
        if info.get("user_api") == "blas"
    ]


def describe() -> dict[str, object]:
    """A JSON-ready description of this machine and the software versions that matter to the figures."""
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas_info(),
        "blas_env": {name: os.environ.get(name) for name in OPENBLAS_VARS},
        "load_average": list(os.getloadavg()),  # other processes competing for the cores at the start
    }

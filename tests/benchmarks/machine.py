"""The machine line every figure in docs/performance.md is read against."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path


@dataclass(frozen=True)
class Machine:
    cpu: str
    cores: int
    ram_gib: float
    os: str
    python: str
    packages: dict[str, str]
    openblas: dict[str, str]
    load_average: str

    def line(self) -> str:
        packages = ", ".join(f"{name} {ver}" for name, ver in self.packages.items())
        openblas = ", ".join(f"{k}={v}" for k, v in self.openblas.items()) or "none set"
        return (
            f"{self.cpu}, {self.cores} cores, {self.ram_gib:.1f} GiB RAM, {self.os}; "
            f"Python {self.python}; {packages}; OpenBLAS environment: {openblas}; "
            f"load average at start: {self.load_average}"
        )


def _proc_field(path: str, key: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == key:
                return value.strip()
    except OSError:
        return None
    return None


def describe_machine() -> Machine:
    memory_kb = _proc_field("/proc/meminfo", "MemTotal") or "0 kB"
    try:
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        load = "unknown"
    return Machine(
        cpu=_proc_field("/proc/cpuinfo", "model name") or platform.processor() or "unknown CPU",
        cores=os.cpu_count() or 1,
        ram_gib=int(memory_kb.split()[0]) / 1024 / 1024,
        os=f"{platform.system()} {platform.release()} {platform.machine()}",
        python=platform.python_version(),
        packages={
            name: version(name)
            for name in (
                "numpy",
                "scipy",
                "scikit-learn",
                "joblib",
                "boto3",
                "pydantic",
                "aws-lambda-powertools",
            )
        },
        openblas={k: v for k, v in sorted(os.environ.items()) if k.startswith("OPENBLAS_")},
        load_average=load,
    )

"""Dataset layer: readers for MUFAC and MUCAC as distributed, the synthetic benchmark, and ``load_benchmark``.

The registry (``BENCHMARKS``, ``get_benchmark``...) is imported at once; everything that needs torch is imported
on first use, so that the command line can list benchmarks and refuse a wrong name without loading torch."""

from __future__ import annotations

import importlib

from .registry import BENCHMARKS, REGISTRY, BenchmarkSpec, DataConfig, get_benchmark

_LAZY = {  # name -> the submodule that defines it
    **{n: "loading" for n in ("load_benchmark", "ensure_synthetic", "default_synthetic_root")},
    **{n: "benchmark" for n in ("Benchmark", "Split", "Table", "carve_validation", "check_disjoint")},
    **{n: "synthetic" for n in ("make_synthetic_mufac", "make_synthetic_mucac", "read_manifest")},
    "decode_images": "images", "read_mucac": "mucac", "read_mufac": "mufac", "AGE_NAMES": "mufac",
}

__all__ = ["BENCHMARKS", "REGISTRY", "BenchmarkSpec", "DataConfig", "get_benchmark", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

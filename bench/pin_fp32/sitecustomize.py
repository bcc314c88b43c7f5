"""Pins the timed CPU arithmetic choice to fp32 channels-last in any version of the code, old or new.

bench/compare_versions.py --pin-fp32 puts this folder on PYTHONPATH. The choice (cpu_mode) times a
few steps per mode at the start of each run; on a 2-core VM under load it can pick differently from
one process to the next, which swamps the difference a refactor makes. Pinning it compares like with
like. Works for the old module path (cnn.cpu_mode) and the new one (cnn.training.cpu_mode).
"""

import importlib.abc
import importlib.util
import sys

NAMES = {"cnn.cpu_mode", "cnn.training.cpu_mode"}


class _PinFp32(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name not in NAMES:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            module.candidates = lambda: [module.DEFAULT]

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _PinFp32())

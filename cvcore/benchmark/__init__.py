"""Benchmarks on the user's own hardware: Canziani et al. 2016's study with timm's timing discipline.

- :mod:`~cvcore.benchmark.sweep`: plan (checked, bounded) and run a sweep over
  (model, batch, mode, device), one measuring process per configuration;
- :mod:`~cvcore.benchmark.results`: the rows and the environment manifest;
- :mod:`~cvcore.benchmark.store`: sweeps kept in the cvlens home, row by row;
- :mod:`~cvcore.benchmark.tables` and :mod:`~cvcore.benchmark.figures`: tables and
  Canziani-style figures;
- :mod:`~cvcore.benchmark.distributed`: the same sweep as Ray tasks (optional; Ray is only
  imported there).

Importing this package imports neither torch nor Ray.
"""

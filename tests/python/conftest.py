"""pytest glue for the Python binding's tests: the programs they compare with.

Some test files drive a program as well as the binding: test_models.py
trains tiny models with the attend CLI, test_binding_vs_c.py runs
families_dump (the C API called directly). Run as scripts they take the
program's path as their first argument; under pytest it is
`--attend-cli PATH` or `--families-dump PATH`, and this file hands it to
every collected test module that declares the module-level name (`CLI =
None`, `DUMP = None`). A module that needs a program whose option is
missing stops the run with a usage error instead of failing test by test.

ctest runs each file as
  /usr/bin/python3 -m pytest -q tests/python/test_X.py --attend-cli build/attend \
      --families-dump build/tests/families_dump
(see tests/CMakeLists.txt).
"""
import os

import pytest


# option -> (the module-level name it fills, what the program is)
PROGRAMS = {"--attend-cli": ("CLI", "the attend CLI"),
            "--families-dump": ("DUMP", "tests/python/families_dump.c's program")}


def pytest_addoption(parser):
    for option, (_, what) in PROGRAMS.items():
        parser.addoption(option, metavar="PATH", default=None,
                         help=f"{what}, which some tests compare with")


def pytest_collection_modifyitems(config, items):
    modules = {item.module for item in items if getattr(item, "module", None) is not None}
    for option, (name, what) in PROGRAMS.items():
        path = config.getoption(option)
        if path is not None and not os.access(path, os.X_OK):
            raise pytest.UsageError(f"{option} {path}: not an executable file")
        for module in modules:
            if not hasattr(module, name) or getattr(module, name) is not None:
                continue
            if path is None:
                raise pytest.UsageError(f"{os.path.basename(module.__file__)} runs {what}: "
                                        f"pass {option} PATH")
            setattr(module, name, path)

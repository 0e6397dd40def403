import os

import pytest

from headwater.plugins import Plugins, use_plugins
from headwater.stores import close_stores


@pytest.fixture(autouse=True)
def headwater_home(tmp_path, monkeypatch):
    """Every test gets its own home, database and result storage; plugin failures raise."""
    home = tmp_path / "headwater-home"
    monkeypatch.setenv("HEADWATER_HOME", str(home))
    for name in ("HEADWATER_DATABASE_URL", "HEADWATER_LOCAL_STORAGE_PATH", "HEADWATER_STORE", "HEADWATER_LOAD_PLUGINS", "HEADWATER_BLOCK_PLUGINS"):
        monkeypatch.delenv(name, raising=False)
    with use_plugins(Plugins(strict=True)):
        yield home
    close_stores()


@pytest.fixture
def client(headwater_home):
    from headwater.client import get_client

    return get_client()

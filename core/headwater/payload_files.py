"""Result payloads as files in one folder, written atomically, named by hex digests only.

Shared by the stores that keep large payloads beside their database (SQLite, PostgreSQL).
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

__all__ = ["PayloadFiles"]

_SAFE_KEY = re.compile(r"[0-9a-f]{16,128}")


class PayloadFiles:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @staticmethod
    def check_key(storage_key: str) -> None:
        # Only hex digests name results, so no key can reach outside the folder.
        if not isinstance(storage_key, str) or not _SAFE_KEY.fullmatch(storage_key):
            raise ValueError(f"storage key {storage_key!r} is not a hex digest; refusing to use it as a file name")

    def _path(self, storage_key: str) -> Path:
        self.check_key(storage_key)
        return self.folder / storage_key

    def write(self, storage_key: str, payload: bytes) -> None:
        path = self._path(storage_key)
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, temp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(payload)
            os.replace(temp, path)  # readers see the old file or the whole new one, never half of it
        except BaseException:
            try:
                os.unlink(temp)
            except OSError:
                pass
            raise

    def read(self, storage_key: str) -> bytes:
        try:
            return self._path(storage_key).read_bytes()
        except FileNotFoundError:
            raise KeyError(storage_key) from None

    def delete(self, storage_key: str) -> None:
        try:
            self._path(storage_key).unlink()
        except FileNotFoundError:
            pass

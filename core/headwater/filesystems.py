"""Where persisted results go when not in the store: ``result_storage=`` on a flow or task.

``result_storage`` takes a local folder (a path), any fsspec URL (``file:///srv/results``,
``memory://results``, ``s3://bucket/prefix`` with s3fs installed, ...), or one of these objects,
which Prefect code knows as blocks: :class:`LocalFileSystem` and :class:`RemoteFileSystem`.
headwater reads and writes through fsspec; it has no adapters of its own.

Each result is a file named by a digest of its run's id under that location, and the run's state
records the file's URL: any process that can reach the location reads the result back (a cache
hit on another machine, say, when both share the location and the store).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Union

from .exceptions import ConfigurationError

__all__ = ["LocalFileSystem", "RemoteFileSystem", "S3", "GCS", "ResultStorage", "resolve_result_storage", "read_url"]


class RemoteFileSystem:
    """A location any fsspec URL names; ``settings`` are passed to the file system (credentials, endpoint, ...)."""

    def __init__(self, basepath: str, settings: Optional[dict[str, Any]] = None) -> None:
        self.basepath = basepath.rstrip("/")
        self.settings = dict(settings or {})

    def _url(self, path: str) -> str:
        return f"{self.basepath}/{path.lstrip('/')}" if path else self.basepath

    def write_path(self, path: str, content: bytes) -> str:
        """Write ``content`` at ``path`` under the base path, whole or not at all where the file system allows; return its URL."""
        import fsspec

        url = self._url(path)
        fs, target = fsspec.core.url_to_fs(url, **self.settings)
        parent = target.rsplit("/", 1)[0]
        if parent:
            fs.makedirs(parent, exist_ok=True)
        temporary = f"{target}.part-{os.getpid()}"
        with fs.open(temporary, "wb") as stream:
            stream.write(content)
        fs.mv(temporary, target)  # a reader never sees half a payload
        return url

    def read_path(self, path: str) -> bytes:
        return read_url(self._url(path), self.settings)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(basepath={self.basepath!r})"


class LocalFileSystem(RemoteFileSystem):
    """A folder on this machine (or a shared mount)."""

    def __init__(self, basepath: Union[str, os.PathLike[str]]) -> None:
        folder = Path(basepath).expanduser().resolve()
        super().__init__(folder.as_uri())


class S3(RemoteFileSystem):
    """An S3 bucket path (``"my-bucket/results"``), as Prefect 2's ``S3`` block names one; needs s3fs.

    The keys are passed to s3fs; without them it finds credentials as boto does (environment, profile).
    """

    def __init__(
        self, bucket_path: str, aws_access_key_id: Optional[str] = None, aws_secret_access_key: Optional[str] = None
    ) -> None:
        settings = {"key": aws_access_key_id, "secret": aws_secret_access_key}
        super().__init__(f"s3://{bucket_path.removeprefix('s3://')}", {k: v for k, v in settings.items() if v is not None})
        self.bucket_path = bucket_path


class GCS(RemoteFileSystem):
    """A Google Cloud Storage bucket path, as Prefect 2's ``GCS`` block names one; needs gcsfs."""

    def __init__(self, bucket_path: str, service_account_info: Optional[str] = None, project: Optional[str] = None) -> None:
        settings = {"token": service_account_info, "project": project}
        super().__init__(f"gs://{bucket_path.removeprefix('gs://')}", {k: v for k, v in settings.items() if v is not None})
        self.bucket_path = bucket_path


ResultStorage = Union[str, os.PathLike, RemoteFileSystem, Any]

# Prefect's block types that hold results, as Prefect code names them: "s3-bucket/my-block".
_PREFECT_BLOCK_TYPES = {"s3-bucket", "s3", "gcs-bucket", "gcs", "azure-blob-storage", "azure", "local-file-system", "remote-file-system", "smb"}


def resolve_result_storage(storage: Any, option: str, owner: str) -> Optional[RemoteFileSystem]:
    """The storage ``result_storage=`` names, or None for the store (raise naming the option if it names none)."""
    if storage is None or isinstance(storage, RemoteFileSystem):
        return storage
    if isinstance(storage, (str, os.PathLike)):
        text = os.fspath(storage)
        if "://" in text:
            return RemoteFileSystem(text)
        head = text.split("/", 1)[0]
        if "/" in text and head in _PREFECT_BLOCK_TYPES:
            raise ConfigurationError(
                f"{owner}: {option}={text!r} names a Prefect block; headwater has no blocks. Give the location "
                "itself: an fsspec URL such as 's3://bucket/prefix' or 'file:///srv/results', or a folder path."
            )
        return LocalFileSystem(text)
    if callable(getattr(storage, "write_path", None)) and isinstance(getattr(storage, "basepath", None), str):
        return _Adapted(storage)
    raise ConfigurationError(
        f"{owner}: {option}={storage!r} is not a result storage; give a folder path, an fsspec URL such as "
        "'s3://bucket/prefix', or headwater.filesystems.LocalFileSystem(...) / RemoteFileSystem(...)."
    )


class _Adapted(RemoteFileSystem):
    """An object of the user's with ``basepath`` and ``write_path``: it writes, and its results are read by URL."""

    def __init__(self, storage: Any) -> None:
        basepath = storage.basepath if "://" in storage.basepath else Path(storage.basepath).expanduser().resolve().as_uri()
        super().__init__(basepath)
        self.storage = storage

    def write_path(self, path: str, content: bytes) -> str:
        self.storage.write_path(path, content)
        return self._url(path)


def read_url(url: str, settings: Optional[dict[str, Any]] = None) -> bytes:
    """The bytes of the file at ``url``; ``KeyError`` if there is none."""
    import fsspec

    try:
        with fsspec.open(url, "rb", **(settings or {})) as stream:
            return stream.read()
    except FileNotFoundError:
        raise KeyError(url) from None

"""Fetch one gzipped IDX file from an ordered list of sources, verified by MD5."""

from __future__ import annotations

import gzip
import hashlib
import http.client
import logging
import os
import shutil
import sys
import time
import urllib.request
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError
from tqdm.auto import tqdm

from fashion_mnist.secrets import mask_url, split_userinfo

from .staging import staged_file

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20


@dataclass(frozen=True, repr=False)
class IDXFile:
    """The verified, decompressed bytes of one IDX file and the name they came from."""

    name: str
    content: bytes

    def __repr__(self) -> str:
        return f"IDXFile(name={self.name!r}, {len(self.content)} bytes)"


class _SourceFailed(Exception):
    """One source could not provide a verified file; the next one is tried."""

    def __init__(self, reason: str, absent: bool = False) -> None:
        super().__init__(reason)
        # A source without the file is normal; one whose file is refused is worth a warning.
        self.absent = absent


class VerifiedIDXDataset(AbstractDataset[None, IDXFile]):
    """Read-only dataset that finds a gzipped IDX file and checks its content MD5.

    Sources are tried in order: the cache folder, the folder named by the
    environment variable ``env_var`` (when set), each of ``local_dirs``, then
    ``file`` under each of ``mirrors`` (``http(s)://`` or ``file://``).
    The MD5 is that of the *decompressed* file, so a source that recompressed
    the data (Debian's ``dataset-fashion-mnist`` does) still verifies. A file
    that fails the check is never used and never kept in the cache. Whatever a
    source other than the cache provides is copied into the cache through a
    temporary file and an atomic rename, so an interrupted run leaves no half
    file and a verified cached file is never fetched again.

    Example catalog entry::

        train_images_idx:
          type: fashion_mnist.datasets.VerifiedIDXDataset
          file: train-images-idx3-ubyte.gz
          md5: f4a8712d7a061bf5bd6d2ca38dc4d50a
          path: data/01_raw
          local_dirs: [/usr/share/datasets/fashion-mnist]
          mirrors: [http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/]
    """

    def __init__(  # noqa: PLR0913
        self,
        *,
        file: str,
        md5: str,
        path: str = "data/01_raw",
        local_dirs: Sequence[str] = (),
        env_var: str | None = "FASHION_MNIST_DIR",
        mirrors: Sequence[str] = (),
        timeout: float = 60.0,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create the dataset.

        Args:
            file: Name of the gzipped file, the same in every source.
            md5: Hex MD5 of the decompressed file.
            path: The cache folder, where the verified file is kept (Kedro
                makes it absolute from the project root).
            local_dirs: Folders searched for ``file`` after the cache.
            env_var: Environment variable naming one more folder, searched
                before ``local_dirs``; ``None`` to ignore the environment.
            mirrors: Base URLs searched after the folders.
            timeout: Seconds before a silent download is given up.
            metadata: Free-form metadata, ignored by the dataset.
        """
        self._filename = file
        self._md5 = md5.lower()
        self._cache_dir = Path(path)
        self._local_dirs = [Path(d) for d in local_dirs]
        self._env_var = env_var
        self._mirrors = list(mirrors)
        self._timeout = timeout
        self.metadata = metadata

    @property
    def file(self) -> str:
        """Name of the gzipped file."""
        return self._filename

    @property
    def md5(self) -> str:
        """Expected MD5 of the decompressed file."""
        return self._md5

    @property
    def cache_path(self) -> Path:
        """Where the verified file is kept."""
        return self._cache_dir / self._filename

    def _describe(self) -> dict[str, Any]:
        return {
            "file": self._filename,
            "md5": self._md5,
            "path": str(self._cache_dir),
            "env_var": self._env_var,
            "local_dirs": [str(d) for d in self._local_dirs],
            "mirrors": [mask_url(m) for m in self._mirrors],
        }

    def _exists(self) -> bool:
        return self.cache_path.is_file()

    def save(self, data: None) -> None:
        raise DatasetError(
            f"{type(self).__name__} for '{self._filename}' is read-only: it "
            "fetches files, it does not write them."
        )

    def load(self) -> IDXFile:
        tried: list[str] = []
        for label, fetch in self._sources():
            try:
                content = fetch()
            except _SourceFailed as exc:
                tried.append(f"{label}: {exc}")
                if not exc.absent:
                    logger.warning(
                        "%s: skipped %s: %s; trying the next source",
                        self._filename,
                        label,
                        exc,
                    )
                continue
            logger.info(
                "%s: verified (MD5 %s) from %s", self._filename, self._md5, label
            )
            return IDXFile(name=self._filename, content=content)
        raise DatasetError(self._no_source_message(tried))

    def _sources(self) -> Iterator[tuple[str, Callable[[], bytes]]]:
        yield f"cache {self.cache_path}", self._from_cache
        if self._env_var:
            env_dir = os.environ.get(self._env_var)
            if env_dir:
                path = Path(env_dir) / self._filename
                yield f"${self._env_var} {path}", lambda p=path: self._from_file(p)
        for folder in self._local_dirs:
            path = folder / self._filename
            yield f"local {path}", lambda p=path: self._from_file(p)
        for mirror in self._mirrors:
            url = mirror.rstrip("/") + "/" + self._filename
            yield f"mirror {mask_url(url)}", lambda u=url: self._from_url(u)

    def _no_source_message(self, tried: list[str]) -> str:
        lines = "\n".join(f"  - {line}" for line in tried)
        env = self._env_var or "FASHION_MNIST_DIR"
        return (
            f"Could not get a verified '{self._filename}' (MD5 of its "
            f"decompressed content must be {self._md5}). Sources tried, in "
            f"order:\n{lines}\nTo get the data offline, install Debian's "
            "package (apt-get install dataset-fashion-mnist) or set "
            f"{env} to a folder holding the four Fashion-MNIST .gz files; "
            "online, check that the mirrors listed in conf/base/catalog.yml "
            "can be reached."
        )

    def _verify(self, gz_path: Path) -> bytes:
        try:
            with gzip.open(gz_path, "rb") as stream:
                content = stream.read()
        except (OSError, EOFError, zlib.error) as exc:
            raise _SourceFailed(f"not a readable gzip file ({exc})") from exc
        digest = hashlib.md5(content, usedforsecurity=False).hexdigest()
        if digest != self._md5:
            raise _SourceFailed(
                f"checksum mismatch: the MD5 of its decompressed content is "
                f"{digest}, expected {self._md5}"
            )
        return content

    def _from_cache(self) -> bytes:
        path = self.cache_path
        if not path.is_file():
            raise _SourceFailed("not cached yet", absent=True)
        try:
            return self._verify(path)
        except _SourceFailed as exc:
            path.unlink()
            raise _SourceFailed(f"{exc}; removed from the cache") from exc

    def _from_file(self, path: Path) -> bytes:
        if not path.is_file():
            raise _SourceFailed("no such file", absent=True)

        def copy(out: Path) -> None:
            try:
                _copy_file(path, out)
            except OSError as exc:  # unreadable source, or a full disk
                raise _SourceFailed(f"copy failed ({exc})") from exc

        return self._store(copy)

    def _from_url(self, url: str) -> bytes:
        # urllib takes a URL's user:password@ for part of the host name: send
        # them as the Basic auth header a browser or requests would send.
        bare, auth = split_userinfo(url)
        request = urllib.request.Request(
            bare, headers={"Authorization": auth} if auth else {}
        )

        def download(out: Path) -> None:
            try:
                with urllib.request.urlopen(request, timeout=self._timeout) as response:
                    total = int(response.headers.get("Content-Length") or 0) or None
                    _copy_stream(response, out, total, desc=self._filename)
            # URLError, HTTPError and timeouts are OSErrors; a broken or
            # malformed response raises HTTPException or ValueError.
            except (OSError, http.client.HTTPException, ValueError) as exc:
                raise _SourceFailed(
                    mask_url(f"download failed ({type(exc).__name__}: {exc})")
                ) from exc

        started = time.perf_counter()
        content = self._store(download)
        logger.info(
            "%s: downloaded %d bytes from %s in %.1f s",
            self._filename,
            self.cache_path.stat().st_size,
            bare,
            time.perf_counter() - started,
        )
        return content

    def _store(self, write: Callable[[Path], None]) -> bytes:
        """Write beside the cache, verify, then rename into place: whole or nothing."""
        with staged_file(self.cache_path) as staged:
            write(staged)
            content = self._verify(staged)
        return content


def _copy_file(source: Path, target: Path) -> None:
    with source.open("rb") as src, target.open("wb") as dst:
        shutil.copyfileobj(src, dst, _CHUNK)


def _copy_stream(response: Any, target: Path, total: int | None, desc: str) -> None:
    """Copy a response body to a file, with a progress bar on a terminal."""
    with target.open("wb") as dst:
        if not sys.stderr.isatty():
            shutil.copyfileobj(response, dst, _CHUNK)
            return
        with tqdm(total=total, unit="B", unit_scale=True, desc=desc) as bar:
            while chunk := response.read(_CHUNK):
                dst.write(chunk)
                bar.update(len(chunk))

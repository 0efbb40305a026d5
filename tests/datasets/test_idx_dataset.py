import base64
import gzip
import hashlib
import http.server
import logging
import threading
from functools import partial

import pytest
from kedro.io import DatasetError

from fashion_mnist.datasets import VerifiedIDXDataset, idx_dataset
from tests.support.processes import refused_port
from tests.support.synthetic import idx_bytes, make_images, write_gz

FILE = "train-labels-idx1-ubyte.gz"


@pytest.fixture
def content():
    _, labels = make_images(n_per_class=3)
    return idx_bytes(labels)


class _CountingServer:
    """A static file server on 127.0.0.1 that records the paths it was asked for."""

    def __init__(self, root):
        self.requests: list[str] = []
        self.authorizations: list[str | None] = []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                server.authorizations.append(self.headers.get("Authorization"))
                super().do_GET()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), partial(Handler, directory=str(root))
        )
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        # shutdown() waits for the loop's next poll: 0.05 s, not the default 0.5 s.
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def mirror(tmp_path, content):
    root = tmp_path / "mirror"
    write_gz(root / FILE, content)
    server = _CountingServer(root)
    yield server
    server.close()


def _dataset(tmp_path, md5, **kwargs):
    kwargs.setdefault("env_var", None)
    return VerifiedIDXDataset(
        file=FILE, md5=md5, path=str(tmp_path / "cache"), **kwargs
    )


def test_a_verified_cached_file_is_used_without_any_download(tmp_path, content, mirror):
    md5 = write_gz(tmp_path / "cache" / FILE, content)

    loaded = _dataset(tmp_path, md5, mirrors=[mirror.url]).load()

    assert loaded.content == content and loaded.name == FILE
    assert mirror.requests == []


def test_a_download_over_http_is_verified_and_cached(tmp_path, content, mirror):
    md5 = write_gz(tmp_path / "unused.gz", content)
    dataset = _dataset(tmp_path, md5, mirrors=[mirror.url])

    first = dataset.load()
    second = dataset.load()

    assert first.content == second.content == content
    assert mirror.requests == [f"/{FILE}"]
    assert gzip.decompress((tmp_path / "cache" / FILE).read_bytes()) == content
    assert not list((tmp_path / "cache").glob("*.part"))


def test_a_corrupted_cached_file_is_removed_and_replaced_from_the_next_source(
    tmp_path, content
):
    md5 = write_gz(tmp_path / "local" / FILE, content)
    cached = tmp_path / "cache" / FILE
    write_gz(cached, content[:-1] + b"\x07")

    loaded = _dataset(tmp_path, md5, local_dirs=[str(tmp_path / "local")]).load()

    assert loaded.content == content
    assert gzip.decompress(cached.read_bytes()) == content


def test_a_cached_file_that_is_not_gzip_is_replaced(tmp_path, content):
    md5 = write_gz(tmp_path / "local" / FILE, content)
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / FILE).write_bytes(b"<html>not found</html>")

    loaded = _dataset(tmp_path, md5, local_dirs=[str(tmp_path / "local")]).load()

    assert loaded.content == content


def test_a_source_with_a_wrong_checksum_is_skipped_and_never_cached(tmp_path, content):
    md5 = write_gz(tmp_path / "good" / FILE, content)
    write_gz(tmp_path / "bad" / FILE, content + b"\x00")

    dataset = _dataset(
        tmp_path, md5, local_dirs=[str(tmp_path / "bad"), str(tmp_path / "good")]
    )

    assert dataset.load().content == content
    assert gzip.decompress((tmp_path / "cache" / FILE).read_bytes()) == content


def test_a_wrong_checksum_everywhere_leaves_nothing_in_the_cache(tmp_path, content):
    write_gz(tmp_path / "bad" / FILE, content)

    dataset = _dataset(tmp_path, "0" * 32, local_dirs=[str(tmp_path / "bad")])

    with pytest.raises(
        DatasetError,
        match=r"checksum mismatch: the MD5 of its decompressed content is "
        r"[0-9a-f]{32}, expected 0{32}",
    ):
        dataset.load()
    assert list((tmp_path / "cache").iterdir()) == []


def test_a_folder_whose_file_fails_its_checksum_is_named_in_a_warning_with_both_md5s(
    tmp_path, content, monkeypatch, caplog
):
    md5 = write_gz(tmp_path / "good" / FILE, content)
    write_gz(tmp_path / "env" / FILE, content + b"\x00")
    monkeypatch.setenv("MY_FASHION_DIR", str(tmp_path / "env"))
    found = hashlib.md5(content + b"\x00", usedforsecurity=False).hexdigest()
    dataset = _dataset(
        tmp_path, md5, env_var="MY_FASHION_DIR", local_dirs=[str(tmp_path / "good")]
    )

    with caplog.at_level("WARNING", logger=idx_dataset.__name__):
        assert dataset.load().content == content

    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        f"{FILE}: skipped $MY_FASHION_DIR {tmp_path / 'env' / FILE}: checksum "
        f"mismatch: the MD5 of its decompressed content is {found}, expected {md5}; "
        "trying the next source"
    ]


def test_the_environment_variable_folder_is_tried_before_local_dirs(
    tmp_path, content, monkeypatch
):
    md5 = write_gz(tmp_path / "env" / FILE, content)
    monkeypatch.setenv("MY_FASHION_DIR", str(tmp_path / "env"))

    dataset = _dataset(
        tmp_path, md5, env_var="MY_FASHION_DIR", local_dirs=[str(tmp_path / "empty")]
    )

    assert dataset.load().content == content


def test_a_failing_mirror_is_skipped_for_the_next_one(tmp_path, content, mirror):
    md5 = write_gz(tmp_path / "unused.gz", content)

    with refused_port() as port:
        dead = f"http://127.0.0.1:{port}/"
        loaded = _dataset(tmp_path, md5, mirrors=[dead, mirror.url]).load()

    assert loaded.content == content
    assert mirror.requests == [f"/{FILE}"]


def test_file_urls_work_as_mirrors(tmp_path, content):
    md5 = write_gz(tmp_path / "files" / FILE, content)

    loaded = _dataset(tmp_path, md5, mirrors=[(tmp_path / "files").as_uri()]).load()

    assert loaded.content == content


def test_when_every_source_fails_the_error_lists_each_one_and_how_to_get_the_data(
    tmp_path, content, mirror, monkeypatch
):
    monkeypatch.setenv("MY_FASHION_DIR", str(tmp_path / "nowhere"))
    write_gz(tmp_path / "bad" / FILE, content + b"\x01")

    dataset = _dataset(
        tmp_path,
        "0" * 32,
        env_var="MY_FASHION_DIR",
        local_dirs=[str(tmp_path / "bad")],
        mirrors=[mirror.url + "missing/"],
    )

    with pytest.raises(DatasetError) as excinfo:
        dataset.load()
    message = str(excinfo.value)
    assert f"Could not get a verified '{FILE}'" in message
    assert "cache " in message and "not cached yet" in message
    assert f"$MY_FASHION_DIR {tmp_path / 'nowhere' / FILE}: no such file" in message
    assert f"local {tmp_path / 'bad' / FILE}: checksum mismatch" in message
    assert "mirror http://127.0.0.1:" in message and "HTTP Error 404" in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert "set MY_FASHION_DIR" in message


def test_an_interrupted_download_leaves_no_partial_file(tmp_path, content, monkeypatch):
    md5 = write_gz(tmp_path / "files" / FILE, content)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("fashion_mnist.datasets.idx_dataset._copy_stream", interrupted)
    dataset = _dataset(tmp_path, md5, mirrors=[(tmp_path / "files").as_uri()])

    with pytest.raises(KeyboardInterrupt):
        dataset.load()
    assert list((tmp_path / "cache").iterdir()) == []


def test_the_dataset_is_read_only(tmp_path):
    with pytest.raises(DatasetError, match="read-only"):
        _dataset(tmp_path, "0" * 32).save(b"IDX")


def test_a_cached_file_with_damaged_compressed_data_is_replaced(tmp_path, content):
    md5 = write_gz(tmp_path / "local" / FILE, content)
    cached = tmp_path / "cache" / FILE
    write_gz(cached, content)
    damaged = bytearray(cached.read_bytes())
    damaged[12:20] = b"\xff" * 8  # inside the deflate stream, past the gzip header
    cached.write_bytes(bytes(damaged))

    loaded = _dataset(tmp_path, md5, local_dirs=[str(tmp_path / "local")]).load()

    assert loaded.content == content
    assert gzip.decompress(cached.read_bytes()) == content


def test_an_unreadable_local_file_is_skipped_for_the_next_source(
    tmp_path, content, monkeypatch
):
    md5 = write_gz(tmp_path / "locked" / FILE, content)
    write_gz(tmp_path / "open" / FILE, content)

    real_copy = idx_dataset._copy_file

    def copy(source, target):
        if "locked" in str(source):
            raise PermissionError(13, "Permission denied", str(source))
        real_copy(source, target)

    monkeypatch.setattr(idx_dataset, "_copy_file", copy)
    dataset = _dataset(
        tmp_path, md5, local_dirs=[str(tmp_path / "locked"), str(tmp_path / "open")]
    )

    assert dataset.load().content == content


def test_a_mirror_url_with_a_password_downloads_and_never_shows_the_password(
    tmp_path, content, mirror, caplog
):
    md5 = hashlib.md5(content).hexdigest()
    secret_url = mirror.url.replace("http://", "http://alice:s3cr3tpw@")
    missing_url = secret_url + "missing/"
    caplog.set_level(logging.DEBUG)

    loaded = _dataset(tmp_path / "a", md5, mirrors=[secret_url]).load()
    failing = _dataset(tmp_path / "b", md5, mirrors=[missing_url])
    with pytest.raises(DatasetError) as excinfo:
        failing.load()

    assert loaded.content == content
    expected = "Basic " + base64.b64encode(b"alice:s3cr3tpw").decode()
    assert mirror.authorizations == [expected, expected]
    shown = [caplog.text, str(excinfo.value), str(failing)]
    assert all("s3cr3tpw" not in text for text in shown)
    assert "http://alice:***@127.0.0.1:" in str(excinfo.value)

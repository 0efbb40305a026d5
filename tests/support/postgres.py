"""A throw-away PostgreSQL cluster on 127.0.0.1 (Debian's postgresql package)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import free_port


@dataclass
class PostgresCluster:
    """A cluster in a temporary folder, trusting local connections as `postgres`.

    `url` is the server's URL without a database: ``/postgres`` exists, as does
    ``/optuna``, made by `start`.
    """

    bindir: Path
    root: Path
    port: int
    as_user: list[str]

    @property
    def data(self) -> Path:
        """The cluster's data directory."""
        return self.root / "data"

    @property
    def url(self) -> str:
        """``postgresql://postgres@127.0.0.1:PORT``, without a database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    @classmethod
    def start(cls) -> PostgresCluster:
        """initdb a cluster in a new temporary folder, start it on a free port, create `optuna`.

        PostgreSQL refuses to run as root: as root, its commands run as the
        `postgres` user (with runuser), who then owns the folder.

        Raises:
            RuntimeError: PostgreSQL is not installed.
            subprocess.CalledProcessError: initdb, pg_ctl or createdb failed.
        """
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            raise RuntimeError(
                "PostgreSQL is not installed: apt-get install -y postgresql (.ci/run does)"
            )
        bindir = Path(bins[-1]).parent
        root = Path(tempfile.mkdtemp(prefix="fmnist-pg-"))
        data = root / "data"
        # PostgreSQL refuses to run as root: run it as the postgres user then.
        as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if as_user:
            shutil.chown(root, "postgres")
        port = free_port()
        subprocess.run(
            # --no-sync: a throw-away cluster needs no fsync of its files.
            [
                *as_user,
                bindir / "initdb",
                "--no-sync",
                "-D",
                data,
                "-A",
                "trust",
                "-U",
                "postgres",
            ],
            check=True,
            capture_output=True,
        )
        # No fsync, as PostgreSQL's docs advise for data that can be recreated.
        options = (
            f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={root}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        subprocess.run(
            [
                *as_user,
                bindir / "pg_ctl",
                "-D",
                data,
                "-o",
                options,
                "-l",
                root / "log",
                "-w",
                "start",
            ],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                *as_user,
                bindir / "createdb",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                "optuna",
            ],
            check=True,
            capture_output=True,
        )
        return cls(bindir=bindir, root=root, port=port, as_user=as_user)

    def stop(self) -> None:
        """Stop the server (fast shutdown, errors ignored) and delete its folder."""
        subprocess.run(
            [
                *self.as_user,
                self.bindir / "pg_ctl",
                "-D",
                self.data,
                "-m",
                "fast",
                "-w",
                "stop",
            ],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(self.root, ignore_errors=True)

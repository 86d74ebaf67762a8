"""Dagster's own processes for tests: a DAGSTER_HOME with the project's dagster.yaml, the
environment that points the code location at a test source and lake, `dagster-webserver` /
`dagster-daemon` started in their own process groups, and the webserver's GraphQL API."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import dagster as dg
import yaml

from techhub_lake.automation.instance import psycopg2_url
from techhub_lake.settings import DAGSTER_STORAGE_URL_ENV, EVENT_SWITCHES

REPO = Path(__file__).parents[1]
BIN = Path(sys.executable).parent
CODE_LOCATION = ["-m", "techhub_lake.definitions", "--working-directory", str(REPO)]


def free_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def dagster_home(path: Path, storage_url: str | None = None, config: dict | None = None) -> Path:
    """A DAGSTER_HOME with the project's dagster.yaml, its PostgreSQL storage in ``storage_url`` (or
    the instance ``config`` given), and that storage created (before two processes race to create it)."""
    path.mkdir()
    if config is None:
        shutil.copy(REPO / "dagster.yaml", path / "dagster.yaml")
    else:
        (path / "dagster.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    open_instance(path, storage_url).dispose()
    return path


def open_instance(home: Path, storage_url: str | None = None) -> dg.DagsterInstance:
    """The instance of a DAGSTER_HOME made by ``dagster_home`` (its storage URL resolved now)."""
    with mock.patch.dict(os.environ, {DAGSTER_STORAGE_URL_ENV: psycopg2_url(storage_url)} if storage_url else {}):
        return dg.DagsterInstance.from_config(str(home))


def service_environment(home: Path, url: str, catalog_path: Path, lake: Path, state: Path,
                        storage_url: str | None = None) -> dict[str, str]:
    """This process's environment without any TECHHUB_/AWS_ setting of its own, pointed at a test
    instance (its storage at ``storage_url``), source, catalog and lake, with Dagster's event
    switches on as the CLI sets them."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TECHHUB_", "AWS_", "DAGSTER_"))}
    storage = {DAGSTER_STORAGE_URL_ENV: psycopg2_url(storage_url)} if storage_url else {}
    return clean | EVENT_SWITCHES | storage | {
        "DAGSTER_HOME": str(home), "TECHHUB_SOURCE_URL": url, "TECHHUB_CATALOG": str(catalog_path),
        "TECHHUB_LAKE_ROOT": str(lake), "TECHHUB_STATE_DIR": str(state)}


@contextlib.contextmanager
def running(commands: dict[str, list[str]], env: dict[str, str], logs: Path) -> Iterator[None]:
    """Start each command (name -> argv) in its own process group, logging to ``logs/<name>.log``
    (a file, not a pipe, which would fill up), and stop the groups on exit."""
    files, processes = [], []
    try:
        for name, argv in commands.items():
            files.append(open(logs / f"{name}.log", "w"))
            processes.append(subprocess.Popen(argv, env=env, stdout=files[-1], stderr=subprocess.STDOUT,
                                              start_new_session=True))
        yield
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        for file in files:
            file.close()


def webserver_command(port: int) -> list[str]:
    return [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), *CODE_LOCATION]


def daemon_command() -> list[str]:
    return [str(BIN / "dagster-daemon"), "run", *CODE_LOCATION]


def graphql(port: int, query: str, variables: dict | None = None) -> dict:
    """The ``data`` of one GraphQL request to the webserver; fails on GraphQL errors."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", headers={"Content-Type": "application/json"},
                                     data=json.dumps({"query": query, "variables": variables or {}}).encode())
    try:
        answer = json.load(urllib.request.urlopen(request, timeout=30))
    except urllib.error.HTTPError as exc:  # a GraphQL error comes as a 500 whose body says what
        raise AssertionError(f"GraphQL {exc.code}: {exc.read().decode(errors='replace')[:2000]}") from None
    assert "errors" not in answer, answer["errors"]
    return answer["data"]


def wait_for_webserver(port: int, seconds: float = 180) -> None:
    """Until the webserver answers GraphQL."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            graphql(port, "{ version }")
            return
        except OSError:
            assert time.monotonic() < deadline, "dagster-webserver did not come up"
            time.sleep(1)

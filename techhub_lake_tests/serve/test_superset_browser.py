"""Apache Superset on the warehouse, as a user gets it: ``techhub-lake demo --bi --no-ui`` loads a lake,
installs (once) and provisions Superset, and serves it; then headless Chromium logs in and opens
each of the four dashboards, every chart renders without an error, and a figure on the page equals
the same SQL on the warehouse. Screenshots go to ``test-artifacts/``. Provisioning again updates
and duplicates nothing. Ctrl-C stops Superset and the embedded PostgreSQL.

Superset is installed into the test's state directory (about 2 minutes, from PyPI) unless
``$TECHHUB_SUPERSET_VENV`` names an installed one."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from techhub_lake.serve.superset.provision import BUNDLE
from techhub_lake_tests.conftest import query
from techhub_lake_tests.dagster_services import REPO, free_port

pytestmark = pytest.mark.slow

CLI = str(Path(sys.executable).with_name("techhub-lake"))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = REPO / "test-artifacts"
ADMIN_PASSWORD = "superset-admin-for-the-test"
BI_PASSWORD = "bi-role-for-the-test"
CHART_ERRORS = ("Data error", "Unexpected error", "An error occurred", "No results were returned")


def dashboards() -> dict[str, list[str]]:
    """Each dashboard of the bundle (its slug) and the names of the charts it holds."""
    found = {}
    for path in (BUNDLE / "dashboards").glob("*.yaml"):
        document = yaml.safe_load(path.read_text())
        found[document["slug"]] = [node["meta"]["sliceName"] for node in document["position"].values()
                                   if isinstance(node, dict) and node.get("type") == "CHART"]
    return found


def api(port: int, path: str, token: str | None = None, body: dict | None = None) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode() if body else None,
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.load(answer)


def counts(port: int) -> dict[str, int]:
    """How many dashboards, charts, datasets and databases Superset holds, through its REST API."""
    token = api(port, "/api/v1/security/login", body={"username": "admin", "password": ADMIN_PASSWORD,
                                                      "provider": "db", "refresh": False})["access_token"]
    return {kind: api(port, f"/api/v1/{kind}/?q=(page_size:100)", token)["count"]
            for kind in ("dashboard", "chart", "dataset", "database")}


@pytest.fixture
def superset(tmp_path):
    """``techhub-lake demo --bi --no-ui`` running, once Superset is up: (its port, the state dir, the process)."""
    state = tmp_path / "state"
    state.mkdir()
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("TECHHUB_SOURCE", "TECHHUB_LAKE", "DAGSTER_"))}
    environment |= {"TECHHUB_STATE_DIR": str(state), "TECHHUB_SUPERSET_ADMIN_PASSWORD": ADMIN_PASSWORD,
                    "TECHHUB_BI_PASSWORD": BI_PASSWORD}
    log = state / "demo.log"
    process = subprocess.Popen([CLI, "demo", "--bi", "--no-ui", "--scale", "0.005", "--seed", "17", "--bi-port", str(port)],
                               env=environment, cwd=state, stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 900  # a first install of Superset included
        while "Superset is up on" not in log.read_text():
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(2)
        yield port, state, environment, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=120)


def test_the_four_dashboards_render_the_warehouse_in_chromium(superset):
    from playwright.sync_api import sync_playwright

    port, state, environment, process = superset
    assert Path(CHROMIUM).exists(), "Debian's chromium is needed: apt-get install chromium"
    ARTIFACTS.mkdir(exist_ok=True)
    warehouse = subprocess.run([CLI, "warehouse", "url"], env=environment, capture_output=True, text=True, cwd=state)
    users = query(warehouse.stdout.strip(), "SELECT count(*) FROM analytics.dm_users")[0][0]
    requests = query(warehouse.stdout.strip(), "SELECT sum(total_requests) FROM analytics.dm_service_funnel")[0][0]
    assert users > 0 and requests > 0
    expected = dashboards()
    assert sorted(expected) == ["data-quality", "service-funnel", "techhub-overview", "techpark"]

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1600, "height": 1200})
        page.goto(f"http://127.0.0.1:{port}/login/")
        page.fill("#username", "admin")
        page.fill("#password", ADMIN_PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r".*/superset/welcome/.*"), timeout=60_000)
        # a figure on the page is the warehouse's own: the big numbers, as Superset formats them (1,080)
        figures = {"techhub-overview": f"{users:,}", "service-funnel": f"{int(requests):,}"}
        for slug, charts in sorted(expected.items()):
            page.goto(f"http://127.0.0.1:{port}/superset/dashboard/{slug}/")
            # every chart drawn: each chart's title on the page, as many chart containers as charts, no
            # loading indicator left (and the figure checked below shown)
            page.wait_for_function(
                """([names, figure]) => names.every(n => document.body.innerText.includes(n))
                   && document.querySelectorAll('.chart-container').length === names.length
                   && document.querySelectorAll('[data-test="loading-indicator"], .chart-container .loading').length === 0
                   && (!figure || document.body.innerText.split('\\n').some(line => line.trim() === figure))""",
                arg=[charts, figures.get(slug)], timeout=240_000)
            page.wait_for_timeout(1500)  # the charts' last paint
            page.screenshot(path=str(ARTIFACTS / f"superset-{slug}.png"), full_page=True)
            text = page.inner_text("body")
            assert not [e for e in CHART_ERRORS if e in text], (slug, [e for e in CHART_ERRORS if e in text])
        browser.close()

    # provisioning again updates what is there and duplicates nothing
    before = counts(port)
    assert before == {"dashboard": 4, "chart": sum(len(names) for names in expected.values()), "dataset": len(list((BUNDLE / "datasets").rglob("*.yaml"))),
                      "database": 1}
    reprovision = """
import os
from techhub_lake.resources.warehouse import resolve_warehouse_url
from techhub_lake.serve.superset.instance import SupersetHome
from techhub_lake.serve.superset.provision import provision
home = SupersetHome.default()
provision(home, resolve_warehouse_url(), home.bi_password())
"""
    again = subprocess.run([sys.executable, "-c", reprovision], env=environment, cwd=state, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-2000:]
    assert counts(port) == before

    # Ctrl-C: Superset and the embedded PostgreSQL stop, nothing is left behind
    import psutil

    process.send_signal(signal.SIGINT)
    process.wait(timeout=120)
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5)
    assert "stopped the embedded PostgreSQL" in (state / "demo.log").read_text()
    left = [p for p in psutil.process_iter(["cmdline", "status"]) if str(port) in (p.info["cmdline"] or [])
            and p.info["status"] != psutil.STATUS_ZOMBIE]
    assert left == []

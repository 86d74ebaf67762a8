"""The deployment files, checked without a Docker engine: the compose file validates with the compose
client, has the services docs/deployment.md names, binds only to loopback, takes secrets only from .env and
sets exactly the environment the code reads; the deployment's dagster.yaml and workspace.yaml are
valid and match the compose file; the Dockerfile is slim, non-root and holds no secret; the Helm
values fill the chart with this project's settings."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from techhub_lake.settings import EVENT_SWITCHES

pytestmark = pytest.mark.slow  # an end-to-end run of the lake: the full suite, not the fast tier

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "techhub_lake"
COMPOSE = REPO / "docker-compose.yml"
# read by the code but set elsewhere: the image sets the state directory; a custom catalog is optional
# the compose deployment names its Dagster storage field by field (deploy/compose/dagster.yaml), not by one URL
NOT_FROM_COMPOSE = {"TECHHUB_STATE_DIR", "TECHHUB_CATALOG", "TECHHUB_EXECUTOR", "DAGSTER_POSTGRES_URL",
                    "TECHHUB_READER_PASSWORD",  # only for the init service, which creates the role
                    "TECHHUB_FAULT",  # the reliability suite's fault points: never set in a deployment
                    # `techhub-lake bi` (a local Superset); compose's Superset is a service of its own
                    "TECHHUB_SUPERSET_ADMIN_PASSWORD", "TECHHUB_SUPERSET_SECRET_KEY", "TECHHUB_SUPERSET_VENV",
                    "TECHHUB_SUPERSET_WAREHOUSE_URI"}  # read by Superset's importer, which runs in superset-init
LAKE_SERVICES = ("code-location", "dagster-webserver", "dagster-daemon")


def compose_command() -> list[str]:
    """`docker compose` when the plugin is there, else the standalone `docker-compose` (the README's
    test command installs Debian's)."""
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.fail("no compose client: install Docker's compose plugin or Debian's docker-compose")


def compose_config(env_file: Path) -> subprocess.CompletedProcess:
    command = [*compose_command(), "--project-directory", str(REPO), "-f", str(COMPOSE), "--env-file", str(env_file),
               "config"]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def resolved() -> dict:
    """The compose file as the compose client resolves it with .env.example."""
    out = compose_config(REPO / ".env.example")
    assert out.returncode == 0, out.stderr
    return yaml.safe_load(out.stdout)


def variables_read_by_the_code() -> set[str]:
    """Every TECHHUB_/AWS_/DAGSTER_POSTGRES_ variable the package or the deployment's dagster.yaml reads."""
    pattern = re.compile(r"\b((?:TECHHUB|AWS|DAGSTER_POSTGRES)_[A-Z_]+)\b")
    names = set()
    for path in [*PACKAGE.rglob("*.py"), REPO / "deploy" / "compose" / "dagster.yaml"]:
        names |= set(pattern.findall(path.read_text(encoding="utf-8")))
    return names


def test_compose_validates_and_every_service_readme_names_exists(resolved):
    services = set(resolved["services"])
    assert services == {"techhub-db", "techhub-source-init", "dagster-db", "warehouse-db", "minio", "minio-init",
                        "code-location", "dagster-webserver", "dagster-daemon", "superset-init", "superset"}
    deploying = (REPO / "docs" / "deployment.md").read_text(encoding="utf-8")
    named = set(re.findall(r"^\| `([a-z-]+)` \|", deploying, flags=re.MULTILINE))
    assert named == services


def test_services_start_in_order_with_health_checks(resolved):
    services = resolved["services"]
    for name in ("techhub-db", "dagster-db", "warehouse-db", "minio", "code-location", "dagster-webserver", "superset"):
        assert "test" in services[name]["healthcheck"], name
    code = services["code-location"]["depends_on"]
    assert code["techhub-source-init"]["condition"] == "service_completed_successfully"
    assert code["minio-init"]["condition"] == "service_completed_successfully"
    assert code["dagster-db"]["condition"] == "service_healthy"
    assert code["warehouse-db"]["condition"] == "service_healthy"
    for name in ("dagster-webserver", "dagster-daemon"):
        assert services[name]["depends_on"]["code-location"]["condition"] == "service_healthy"
    assert services["techhub-source-init"]["depends_on"]["techhub-db"]["condition"] == "service_healthy"
    assert "--keep-existing" in services["techhub-source-init"]["command"]
    assert set(resolved["volumes"]) == {"techhub-db-data", "dagster-db-data", "warehouse-db-data", "minio-data",
                                        "dagster-compute-logs", "superset-home"}
    # Superset: dashboards imported once the warehouse is up, then the server
    assert services["superset-init"]["depends_on"]["warehouse-db"]["condition"] == "service_healthy"
    assert services["superset"]["depends_on"]["superset-init"]["condition"] == "service_completed_successfully"


def test_no_port_binds_beyond_loopback(resolved):
    published = []
    for name, service in resolved["services"].items():
        for port in service.get("ports", []):
            host = port.get("host_ip") if isinstance(port, dict) else str(port).rsplit(":", 2)[0]
            published.append((name, host))
    assert published and all(host == "127.0.0.1" for _, host in published), published
    assert ("dagster-webserver", "127.0.0.1") in published and ("minio", "127.0.0.1") in published


def test_secrets_come_only_from_the_env_file(tmp_path):
    raw = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    secret = re.compile(r"PASSWORD|SECRET|ACCESS_KEY|SOURCE_URL|WAREHOUSE_URL|_USER$")
    reference = re.compile(r"\$\{[A-Z_]+(:\?[^}]*)?\}")
    # a credential is a ${NAME:?...} reference, or a compose database's URL built only from such references
    written = [(name, key) for name, service in raw["services"].items()
               for key, value in (service.get("environment") or {}).items()
               if secret.search(key) and reference.sub("", str(value)) not in (
                   "", "postgresql://:@techhub-db:5432/techhub", "postgresql://:@warehouse-db:5432/warehouse")]
    assert written == [], "credentials must come from .env as ${NAME:?...}"
    empty = tmp_path / "empty.env"
    empty.write_text("")
    out = compose_config(empty)
    assert out.returncode != 0 and "set " in out.stderr and " in .env" in out.stderr
    assert ".env" in (REPO / ".gitignore").read_text().splitlines()


def test_the_environment_the_code_reads_is_the_one_compose_sets(resolved):
    read = variables_read_by_the_code()
    for name in LAKE_SERVICES:
        environment = resolved["services"][name]["environment"]
        provided = {key for key in environment if re.match(r"(TECHHUB|AWS|DAGSTER_POSTGRES)_", key)}
        assert read - NOT_FROM_COMPOSE - provided == set(), name
        assert provided - read == set(), f"{name} sets variables no code reads"
        assert environment["TECHHUB_LAKE_ROOT"] == "s3://datalake" and environment["AWS_ENDPOINT_URL"] == "http://minio:9000"
        # every process that creates runs or writes their events has Dagster's partition-event switches
        assert {key: environment.get(key) for key in EVENT_SWITCHES} == EVENT_SWITCHES, name
    # the init service fills the stand-in as its owner and creates the read-only role the lake reads through
    init = resolved["services"]["techhub-source-init"]
    assert init["environment"]["TECHHUB_SOURCE_URL"] == "postgresql://techhub:change-me@techhub-db:5432/techhub"
    assert init["command"][-2:] == ["--reader", "lake_reader"]
    reader_password = init["environment"]["TECHHUB_READER_PASSWORD"]
    for name in LAKE_SERVICES:
        assert resolved["services"][name]["environment"]["TECHHUB_SOURCE_URL"] == (
            f"postgresql://lake_reader:{reader_password}@techhub-db:5432/techhub"), name


def test_the_init_service_fills_only_the_stand_in_whatever_the_lake_reads(tmp_path):
    own = "postgresql://lake_reader:their-secret@db.example.internal:5432/techhub"
    env_file = tmp_path / "own.env"
    env_file.write_text(re.sub(r"(?m)^TECHHUB_SOURCE_URL=.*$", f"TECHHUB_SOURCE_URL={own}",
                               (REPO / ".env.example").read_text(encoding="utf-8")))
    out = compose_config(env_file)
    assert out.returncode == 0, out.stderr
    services = yaml.safe_load(out.stdout)["services"]
    assert {services[name]["environment"]["TECHHUB_SOURCE_URL"] for name in LAKE_SERVICES} == {own}
    assert services["techhub-source-init"]["environment"]["TECHHUB_SOURCE_URL"] == (
        "postgresql://techhub:change-me@techhub-db:5432/techhub")


def test_the_deployment_instance_and_workspace_match_the_compose_file(resolved, monkeypatch):
    from dagster._core.instance.config import dagster_instance_config

    environment = resolved["services"]["code-location"]["environment"]
    for key, value in environment.items():
        monkeypatch.setenv(key, str(value))
    config, _ = dagster_instance_config(str(REPO / "deploy" / "compose"))
    assert config["storage"]["postgres"]["postgres_db"]["hostname"] == {"env": "DAGSTER_POSTGRES_HOST"}
    # the driver named: psycopg 3 is installed too, and SQLAlchemy 2.1 would pick it for a bare scheme
    assert config["storage"]["postgres"]["postgres_db"]["scheme"] == "postgresql+psycopg2"
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["concurrency"]["pools"]["default_limit"] == 2
    assert config["telemetry"]["enabled"] is False
    # step logs are written where runs execute (code-location) and read by the UI: one shared volume
    logs = config["compute_logs"]["config"]["base_dir"]
    for name in ("code-location", "dagster-webserver"):
        mounts = [v if isinstance(v, str) else f"{v['source']}:{v['target']}" for v in resolved["services"][name]["volumes"]]
        assert any(m.split(":")[1] == logs and m.split(":")[0] in resolved["volumes"] for m in mounts), name
    # the embedded default is PostgreSQL too (one URL from the CLI's environment), with the same source pool
    default, _ = dagster_instance_config(str(REPO))
    assert default["storage"]["postgres"]["postgres_url"] == {"env": "DAGSTER_POSTGRES_URL"}
    assert default["concurrency"]["pools"]["default_limit"] == 2

    workspace = yaml.safe_load((REPO / "deploy" / "compose" / "workspace.yaml").read_text())
    grpc = workspace["load_from"][0]["grpc_server"]
    command = resolved["services"]["code-location"]["command"]
    assert grpc["host"] == "code-location" and str(grpc["port"]) == command[command.index("--port") + 1]
    assert grpc["location_name"] == command[command.index("--location-name") + 1] == "techhub_lake"
    webserver = resolved["services"]["dagster-webserver"]["command"]
    assert webserver[webserver.index("--workspace") + 1] == "/opt/dagster/home/workspace.yaml"


def test_composes_superset_is_the_one_techhub_lake_bi_installs():
    from techhub_lake.serve.superset.install import SUPERSET_REQUIREMENTS

    dockerfile = (REPO / "deploy" / "compose" / "superset" / "Dockerfile").read_text(encoding="utf-8")
    pins = re.findall(r'"([^"]+)"', dockerfile.split("RUN pip install", 1)[1].split("&&", 1)[0])
    assert tuple(pins) == SUPERSET_REQUIREMENTS
    users = re.findall(r"^USER (\S+)", dockerfile, flags=re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert "techhub_lake/serve/superset/bundle" in dockerfile and "import_assets.py" in dockerfile


def test_the_dockerfile_is_slim_non_root_and_holds_no_secret():
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim", dockerfile, flags=re.MULTILINE)
    users = re.findall(r"^USER (\S+)", dockerfile, flags=re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert "pyproject.toml" in dockerfile and "deploy/compose/dagster.yaml" in dockerfile
    assert not re.search(r"^(ENV|ARG)\s.*(PASSWORD|SECRET|ACCESS_KEY|SOURCE_URL)", dockerfile, flags=re.MULTILINE)
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    assert "*" in ignored and "!techhub_lake/" in ignored  # only the package and its deployment files go in
    assert not [line for line in ignored if line.startswith("!.env")]


def test_the_helm_values_fill_the_chart_with_the_project_settings():
    values = yaml.safe_load((REPO / "deploy" / "helm" / "values.yaml").read_text(encoding="utf-8"))
    deployment = values["dagster-user-deployments"]["deployments"][0]
    assert "techhub_lake.definitions" in deployment["dagsterApiGrpcArgs"]
    env = {item["name"]: item["value"] for item in deployment["env"]}
    assert env["TECHHUB_EXECUTOR"] == "k8s"
    assert set(env) - set(EVENT_SWITCHES) <= variables_read_by_the_code() | NOT_FROM_COMPOSE
    # Dagster's partition-event switches wherever runs are created or their events written
    assert {key: env.get(key) for key in EVENT_SWITCHES} == EVENT_SWITCHES
    for process in (values["dagsterWebserver"], values["dagsterDaemon"]):
        assert {item["name"]: item["value"] for item in process["env"]}.get(
            "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS") == "true"
    run_env = dict(item.split("=", 1) for item in values["runLauncher"]["config"]["k8sRunLauncher"]["envVars"])
    assert run_env == EVENT_SWITCHES
    secrets = {"TECHHUB_SOURCE_URL", "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "TECHHUB_WAREHOUSE_URL", "TECHHUB_BI_PASSWORD"}
    assert not secrets & set(env)  # secrets: envSecrets
    assert deployment["envSecrets"] == values["runLauncher"]["config"]["k8sRunLauncher"]["envSecrets"]
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["concurrency"]["pools"]["defaultLimit"] == 2
    assert values["dagsterDaemon"]["runCoordinator"]["type"] == "QueuedRunCoordinator"
    compose_instance = yaml.safe_load((REPO / "deploy" / "compose" / "dagster.yaml").read_text(encoding="utf-8"))
    assert values["postgresql"]["postgresqlScheme"] == compose_instance["storage"]["postgres"]["postgres_db"]["scheme"]


def test_the_executor_is_chosen_from_the_environment(monkeypatch):
    from techhub_lake.definitions import run_executor

    monkeypatch.setenv("TECHHUB_EXECUTOR", "k8s")
    assert run_executor().name == "k8s"
    monkeypatch.setenv("TECHHUB_EXECUTOR", "multiprocess")
    assert run_executor() is None  # Dagster's default
    monkeypatch.setenv("TECHHUB_EXECUTOR", "celery")
    with pytest.raises(ValueError, match=r"TECHHUB_EXECUTOR='celery': use in_process \(the default\), multiprocess or k8s"):
        run_executor()
    monkeypatch.delenv("TECHHUB_EXECUTOR")
    assert run_executor().name == "in_process"

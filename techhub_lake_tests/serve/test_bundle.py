"""The Superset bundle in the repository against the lake's registry: a dataset per gold table with
the mart's documented columns, every chart on a dataset of the bundle, every dashboard on charts of
the bundle, no secret in any file, and the connection Superset gets is the read-only BI role."""

from __future__ import annotations

import yaml

from techhub_lake.serve.superset.provision import (
    BUNDLE,
    DATABASE_FILE,
    MASKED_PASSWORD,
    bundle_documents,
    superset_uri,
)
from techhub_lake.serve.warehouse import BI_ROLE
from techhub_lake_tests.helpers import packaged_lake_tables


def test_a_dataset_per_gold_table_with_the_marts_documented_columns():
    documents = bundle_documents()
    datasets = {d["table_name"]: d for name, d in documents.items() if name.startswith("datasets/")}
    gold = {t.name: t for t in packaged_lake_tables() if t.layer == "gold"}
    physical = {name: d for name, d in datasets.items() if not d["sql"]}
    assert set(physical) == set(gold)
    for name, dataset in physical.items():
        documented = {c: text for c, text in gold[name].column_descriptions.items() if not c.startswith("_")}
        assert [c["column_name"] for c in dataset["columns"]] == list(documented), name
        assert {c["column_name"]: c["description"] or "" for c in dataset["columns"]} == documented, name
        assert dataset["schema"] == "analytics"
    # the virtual one reads a published table
    assert {n: d["sql"] for n, d in datasets.items() if d["sql"]} == {
        "dq_report_latest": "SELECT * FROM analytics.dq_report WHERE checked_at = (SELECT max(checked_at) FROM analytics.dq_report)"}


def test_every_reference_in_the_bundle_resolves_and_no_file_holds_a_secret():
    documents = bundle_documents()
    by_kind = {kind: {d["uuid"]: d for name, d in documents.items() if name.startswith(f"{kind}/")}
               for kind in ("databases", "datasets", "charts", "dashboards")}
    assert len(by_kind["databases"]) == 1 and len(by_kind["dashboards"]) == 4
    assert all(d["database_uuid"] in by_kind["databases"] for d in by_kind["datasets"].values())
    assert all(c["dataset_uuid"] in by_kind["datasets"] for c in by_kind["charts"].values())
    on_dashboards = [node["meta"]["uuid"] for d in by_kind["dashboards"].values() for node in d["position"].values()
                     if isinstance(node, dict) and node.get("type") == "CHART"]
    assert sorted(on_dashboards) == sorted(by_kind["charts"])  # every chart on one dashboard, once
    (database,) = by_kind["databases"].values()
    assert f":{MASKED_PASSWORD}@" in database["sqlalchemy_uri"] and "password" not in database
    assert documents["metadata.yaml"]["type"] == "assets"


def test_superset_connects_as_the_bi_role_with_the_password_given_apart():
    from sqlalchemy.engine import make_url

    from techhub_lake.serve.superset.import_assets import bundle_contents

    embedded = make_url(superset_uri("postgresql://postgres:@/warehouse?host=/tmp/pg-socket"))
    assert (embedded.drivername, embedded.username, embedded.password, embedded.database, embedded.query["host"]) == (
        "postgresql+psycopg2", BI_ROLE, MASKED_PASSWORD, "warehouse", "/tmp/pg-socket")
    remote = superset_uri("postgresql://owner:owner-secret@warehouse-db:5432/warehouse")
    contents = bundle_contents(BUNDLE, remote)
    assert len(contents) == len(list(BUNDLE.rglob("*.yaml")))
    database = yaml.safe_load(contents[DATABASE_FILE.as_posix()])
    assert database["sqlalchemy_uri"] == f"postgresql+psycopg2://{BI_ROLE}:{MASKED_PASSWORD}@warehouse-db:5432/warehouse"
    assert "owner-secret" not in "".join(contents.values())
    assert yaml.safe_load(contents["charts/Users.yaml"]) == bundle_documents()["charts/Users.yaml"]  # the rest as it is

"""Apache Superset for the warehouse, provisioned as code: installed in a virtualenv of its own,
configured, and given the warehouse connection, a dataset per mart and the dashboards from the
versioned bundle in ``bundle/`` (Superset's own export/import format)."""

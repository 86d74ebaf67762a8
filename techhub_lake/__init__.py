"""techhub-lake: the TechHub Django/PostgreSQL database as a bronze -> silver -> gold lakehouse on Dagster."""

__version__ = "0.1.0"

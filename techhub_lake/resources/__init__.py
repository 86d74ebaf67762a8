"""Dagster resources, configured from the environment through ``dg.EnvVar``."""

from __future__ import annotations

import dagster as dg

from techhub_lake import settings
from techhub_lake.resources.lake import LakeStorage
from techhub_lake.resources.masking import BinMask
from techhub_lake.resources.source import SourceDatabase
from techhub_lake.resources.warehouse import WarehouseDatabase
from techhub_lake.settings import default_lake_root


def _env_or(name: str, default: str | None = None) -> dg.EnvVar | str | None:
    # Only the variable's presence is read here; its value is resolved by Dagster at run time.
    return dg.EnvVar(name) if settings.configured(name) else default


def _env_int_or(name: str, default: int) -> dg.EnvVar | int:
    return dg.EnvVar.int(name) if settings.configured(name) else default


def build_resources() -> dict[str, dg.ConfigurableResource]:
    """The resources every asset shares: the source database, the lake storage, the BIN mask, the
    warehouse the serving layer publishes to."""
    return {
        "source": SourceDatabase(url=_env_or(settings.SOURCE_URL_ENV)),
        "lake": LakeStorage(
            root=_env_or(settings.LAKE_ROOT_ENV, default_lake_root()),
            s3_endpoint_url=_env_or(settings.S3_ENDPOINT_ENV),
            s3_region=_env_or(settings.S3_REGION_ENV),
            aws_access_key_id=_env_or(settings.S3_ACCESS_KEY_ENV),
            aws_secret_access_key=_env_or(settings.S3_SECRET_KEY_ENV),
        ),
        "bin_mask": BinMask(from_year=_env_int_or(settings.BIN_MASK_FROM_YEAR_ENV, 2021),
                            keep_last=_env_int_or(settings.BIN_MASK_KEEP_LAST_ENV, 4)),
        "warehouse": WarehouseDatabase(url=_env_or(settings.WAREHOUSE_URL_ENV),
                                       bi_password=_env_or(settings.BI_PASSWORD_ENV)),
    }


__all__ = ["BinMask", "LakeStorage", "SourceDatabase", "WarehouseDatabase", "build_resources"]

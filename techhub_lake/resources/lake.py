"""Where the lake lives: a local directory or an S3 (MinIO) URL, as a Dagster resource."""

from __future__ import annotations

import dagster as dg
from pydantic import Field


class LakeStorage(dg.ConfigurableResource):
    """The lake root (``/path/to/lake`` or ``s3://bucket[/prefix]``) and, for S3, how to reach it.

    Keys and endpoint come from the environment (``AWS_*`` through ``dg.EnvVar``), never from code.
    """

    root: str = Field(description="Local directory or s3://bucket[/prefix] (from $TECHHUB_LAKE_ROOT).")
    s3_endpoint_url: str | None = Field(default=None, description="S3 endpoint, e.g. MinIO's ($AWS_ENDPOINT_URL).")
    s3_region: str | None = Field(default=None, description="S3 region ($AWS_REGION).")
    aws_access_key_id: str | None = Field(default=None, description="$AWS_ACCESS_KEY_ID")
    aws_secret_access_key: str | None = Field(default=None, description="$AWS_SECRET_ACCESS_KEY")

    @property
    def is_s3(self) -> bool:
        """Whether the lake is on S3 rather than local disk."""
        return self.root.startswith("s3://")

    def path(self, *parts: str) -> str:
        """The location of ``parts`` under the lake root, as a local path or an s3:// URL."""
        return "/".join([self.root.rstrip("/"), *(p.strip("/") for p in parts)])

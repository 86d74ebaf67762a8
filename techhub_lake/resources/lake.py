"""Where the lake lives: a local directory or an S3 (MinIO) URL, as a Dagster resource."""

from __future__ import annotations

import functools
from pathlib import Path

import dagster as dg
from pydantic import Field

from techhub_lake.lake.storage import LakeFiles, S3Access


class LakeUnavailable(RuntimeError):
    """The lake root cannot be used (no such bucket, endpoint down, bad URL); says which and where."""


@functools.lru_cache(maxsize=8)
def _s3_client(endpoint_url: str | None, region: str, access_key_id: str | None, secret_access_key: str | None):
    """A boto3 S3 client from Dagster's own S3 integration, made once per process and settings: making
    one loads botocore's service models (~0.5 s), and every asset opens the lake (31 s of a 170 s
    bronze-to-gold run on S3 went there). Used to check the bucket: pyarrow's errors for a missing
    one are cryptic."""
    from dagster_aws.s3 import S3Resource

    return S3Resource(endpoint_url=endpoint_url, region_name=region, aws_access_key_id=access_key_id,
                      aws_secret_access_key=secret_access_key, max_attempts=2).get_client()


class LakeStorage(dg.ConfigurableResource):
    """The lake root (``/path/to/lake`` or ``s3://bucket[/prefix]``) and, for S3, how to reach it.

    Keys and endpoint come from the environment (``AWS_*`` through ``dg.EnvVar``), never from code.
    """

    root: str = Field(description="Local directory or s3://bucket[/prefix] (from $TECHHUB_LAKE_ROOT).")
    s3_endpoint_url: str | None = Field(default=None, description="S3 endpoint, e.g. MinIO's ($AWS_ENDPOINT_URL).")
    s3_region: str | None = Field(default=None, description="S3 region ($AWS_REGION).")
    aws_access_key_id: str | None = Field(default=None, description="$AWS_ACCESS_KEY_ID")
    aws_secret_access_key: str | None = Field(default=None, description="$AWS_SECRET_ACCESS_KEY")

    def files(self) -> LakeFiles:
        """The lake's files; for S3 the bucket is checked first, so a wrong root fails with a clear message."""
        try:
            lake = LakeFiles(self.root, S3Access(self.s3_endpoint_url, self.s3_region, self.aws_access_key_id,
                                                 self.aws_secret_access_key))
        except ValueError as exc:
            raise LakeUnavailable(str(exc)) from None
        if lake.is_s3:
            self._check_bucket(lake.base.split("/", 1)[0])
        elif Path(lake.base).exists() and not Path(lake.base).is_dir():
            raise LakeUnavailable(f"lake root {self.root!r} is a file, not a directory: set TECHHUB_LAKE_ROOT to a "
                                  "directory (created if missing) or s3://bucket[/prefix]")
        return lake

    def _check_bucket(self, bucket: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        client = _s3_client(self.s3_endpoint_url, self.s3_region or "us-east-1", self.aws_access_key_id,
                            self.aws_secret_access_key)
        try:
            client.head_bucket(Bucket=bucket)
        except (BotoCoreError, ClientError) as exc:
            where = self.s3_endpoint_url or "AWS S3"
            raise LakeUnavailable(f"lake root {self.root}: bucket '{bucket}' is not reachable at {where}: {exc}") from None

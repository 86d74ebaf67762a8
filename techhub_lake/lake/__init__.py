"""The lake's storage: one code path for a local directory and S3/MinIO, and where each layer's files go."""

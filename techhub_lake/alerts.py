"""Alerts to a human: a JSON POST to ``$TECHHUB_ALERT_WEBHOOK`` (Slack-compatible ``text`` plus the
fields), from any layer (failed runs, a replication slot holding back too much WAL)."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request

from techhub_lake import settings


def post_webhook(url: str, text: str, fields: dict[str, object]) -> None:
    """POST ``text`` and ``fields`` (datetimes as ISO text) to a webhook as JSON."""
    body = {"text": text, **{k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in fields.items()}}
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10):
        pass


def alert(text: str, fields: dict[str, object]) -> bool:
    """Post an alert to the configured webhook; False when none is configured."""
    webhook = settings.alert_webhook()
    if webhook:
        post_webhook(webhook, text, fields)
    return bool(webhook)

"""A small Django project whose real migrations build a schema the synthetic source never makes
(the catalog discovery test migrates it into a database of its own): Django's own tables, identity
keys, a column named ``end``, ``inet``, ``uuid``, ``varchar[]``, ``jsonb``, comments from ``db_comment``."""

import os

from sqlalchemy.engine import make_url

_url = make_url(os.environ["DJANGO_SHOP_DATABASE_URL"])
SECRET_KEY = "a test project, never deployed"
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "django.contrib.sessions",
                  "django.contrib.admin", "django.contrib.messages", "django.contrib.postgres", "shop"]
DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": _url.database, "USER": _url.username or "",
                         "PASSWORD": _url.password or "", "HOST": _url.query.get("host") or _url.host or "",
                         "PORT": str(_url.port or "")}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
SILENCED_SYSTEM_CHECKS = ["admin.E403", "admin.E406", "admin.E408", "admin.E409", "admin.E410"]  # no web app here

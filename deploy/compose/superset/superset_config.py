# Superset in docker compose: secrets from the environment (.env), metadata in the superset-home volume.
import os

SECRET_KEY = os.environ["TECHHUB_SUPERSET_SECRET_KEY"]
SQLALCHEMY_DATABASE_URI = "sqlite:////var/lib/superset/superset.db"
SUPERSET_LOAD_EXAMPLES = False
# every chart of a dashboard drawn at once, not only those scrolled into view
FEATURE_FLAGS = {"DASHBOARD_VIRTUALIZATION": False}
WTF_CSRF_ENABLED = True
TALISMAN_ENABLED = False

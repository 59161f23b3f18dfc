"""Every table, imported in one place so Alembic and create_all see the whole schema."""

from integration.store import (  # noqa: F401
    models_acks,
    models_alerts,
    models_audit,
    models_chat,
    models_mail,
    models_ops,
    models_privacy,
    models_roster,
    models_web,
    models_webapp,
    models_worker,
)
from integration.store.base import Base

metadata = Base.metadata

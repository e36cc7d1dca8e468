"""`kubeprobe inspect --cluster NAME`: clusters registered in the center, read from its store.

A module of its own so that `kubeprobe inspect --kubeconfig/--sandbox` never imports the center's
database stack (SQLAlchemy, Alembic): that import alone cost more CPU than a 1,000-node sweep.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from kubeprobe.cases.inspections.errors import InspectionError
from kubeprobe.center.credentials import load_secret_box
from kubeprobe.center.settings import CenterSettings
from kubeprobe.center.store.clusters import registered_kubeconfigs
from kubeprobe.center.store.database import Store
from kubeprobe.kube.config import ClusterConnection, parse_kubeconfig

HINT = "set KUBEPROBE_DATABASE_URL (or KUBEPROBE_DATA_DIR) and KUBEPROBE_SECRET_KEY as the center has them"


def center_connections(
    names: Sequence[str], settings: CenterSettings | None = None
) -> list[tuple[str, ClusterConnection]]:
    """Clusters registered in the center, by name: their kubeconfigs read from the center's store
    (``KUBEPROBE_DATABASE_URL`` / ``KUBEPROBE_DATA_DIR``) and decrypted with its secret key."""
    settings = settings or CenterSettings()
    url = settings.resolved_database_url()
    if url.startswith("sqlite"):
        db_file = Path(url.split(":///", 1)[-1])
        if not db_file.exists():
            raise InspectionError(f"--cluster: no center database at {db_file}; {HINT}, or use --kubeconfig")
    if not settings.secret_key and not (Path(settings.data_dir) / "secret.key").exists():
        raise InspectionError(f"--cluster: no center secret key (KUBEPROBE_SECRET_KEY unset); {HINT}")
    box = load_secret_box(settings)
    try:
        rows = asyncio.run(_registered(url))
    except SQLAlchemyError as exc:
        raise InspectionError(
            f"--cluster: the center's database cannot be read ({type(exc).__name__}); {HINT}"
        ) from exc
    found = []
    for name in names:
        if name not in rows:
            known = ", ".join(sorted(rows)) or "none"
            raise InspectionError(
                f"no cluster named {name!r} is registered in the center (registered: {known})"
            )
        credentials, context = rows[name]
        conn = parse_kubeconfig(box.decrypt(credentials), context=context, source=f"center cluster {name}")
        found.append((name, conn))
    return found


async def _registered(url: str) -> dict[str, tuple[bytes, str | None]]:
    store = Store.connect(url, pool_size=1)
    try:
        async with store.transaction() as session:
            return await registered_kubeconfigs(session)
    finally:
        await store.engine.dispose()

"""`copilot keys`: create, list and revoke API keys (stored hashed in the service's Redis)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from kb.errors import StoreUnavailable

keys_app = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)
_out = Console()
_err = Console(stderr=True, soft_wrap=True)


def _store():  # type: ignore[no-untyped-def]
    from kb.storage.redis_conn import connect
    from service.keys import KeyStore
    from service.settings import get_settings

    try:
        settings = get_settings()
        return KeyStore(connect(settings.redis_config()), clock=settings.clock())
    except StoreUnavailable as exc:
        _err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None


@keys_app.command("create")
def create(
    role: Annotated[str, typer.Option(help="agent, trainer or admin")] = "agent",
    shop: Annotated[
        list[str] | None, typer.Option(help="a shop the key may use (repeat; '*' for all)")
    ] = None,
    label: Annotated[str, typer.Option(help="who or what uses it")] = "",
) -> None:
    """Create a key; its plaintext is printed once (only its sha256 is stored)."""
    try:
        key_id, key = _store().create(role, shop or [], label)  # type: ignore[arg-type]
    except ValueError as exc:
        _err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    _out.print(f"created {key_id} ({role}; shops: {', '.join(shop or ['*'])})", highlight=False)
    _out.print(key, highlight=False, soft_wrap=True)


@keys_app.command("list")
def list_keys() -> None:
    """Every key: id, role, shops, label, created, revoked (never the key itself)."""
    import datetime

    table = Table("id", "role", "shops", "label", "created", "revoked")
    for info in _store().list():
        created = datetime.datetime.fromtimestamp(info.created).strftime("%Y-%m-%d %H:%M")
        table.add_row(
            info.key_id, info.role, ",".join(info.shops), info.label, created,
            "yes" if info.revoked else "",
        )  # fmt: skip
    _out.print(table)


@keys_app.command("revoke")
def revoke(key_id: str) -> None:
    """Revoke a key: every replica refuses it from the next request on."""
    from service.errors import KeyNotFound

    try:
        _store().revoke(key_id)
    except KeyNotFound as exc:
        _err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None
    _out.print(f"revoked {key_id}")

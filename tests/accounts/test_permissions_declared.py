"""Permissions are declared on the route (require(Permission.X)), not checked inside handlers."""

from __future__ import annotations

import ast
from pathlib import Path

from litestar.di import Provide

from chonaikai.accounts.permissions import require
from chonaikai.accounts.roles import Permission

SRC = Path(__file__).resolve().parents[2] / "src" / "chonaikai"
BEARER_APIS: set[str] = set()  # the JSON APIs too: provide_principal judges their bearer token


def _handlers(tree: ast.Module):
    for node in tree.body:
        if isinstance(node, ast.AsyncFunctionDef) and any(
            isinstance(d, ast.Call) and getattr(d.func, "id", "") in ("get", "post", "put", "patch", "delete")
            for d in node.decorator_list
        ):
            yield node


def test_no_route_handler_calls_authorize_itself():
    inline = []
    for path in SRC.rglob("*.py"):
        relative = str(path.relative_to(SRC))
        if "migrations" in path.parts or relative in BEARER_APIS:
            continue
        for handler in _handlers(ast.parse(path.read_text())):
            for node in ast.walk(handler):
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "authorize":
                    inline.append(f"{relative}:{handler.name}")
    assert inline == []


def test_require_names_its_permission():
    provider = require(Permission.RECEIPTS_VIEW)
    assert isinstance(provider, Provide)
    assert provider.dependency.__name__ == "require_receipts_view"


def test_the_tenant_dependency_is_provided_once_for_the_association_space():
    providers = sorted(
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if "Provide(provide_tenant)" in path.read_text()
    )
    assert providers == ["app.py"]  # the /a/{slug} router and the /api/v1/associations/{slug} router

"""The one place where queries are scoped to an association (the tenant).

Route handlers receive a ``Tenant`` from the ``tenant`` dependency and reach every
association-owned table through it, so no query forgets ``WHERE association = …``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from piccolo.columns import Column
from piccolo.query import Count, Delete, Objects, Select, Update
from piccolo.table import Table

T = TypeVar("T", bound=Table)


@dataclass(frozen=True)
class Tenant:
    id: int
    slug: str
    name: str
    city_id: int
    row: dict[str, Any] = field(compare=False, repr=False)
    city: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def _owned(self, table: type[Table]) -> Column:
        column = getattr(table, "association", None)
        if column is None:
            raise TypeError(f"{table.__name__} is not owned by an association")
        return column == self.id

    def select(self, table: type[Table], *columns: Any) -> Select:
        return table.select(*columns).where(self._owned(table))

    def objects(self, table: type[T]) -> Objects:
        return table.objects().where(self._owned(table))

    def count(self, table: type[Table]) -> Count:
        return table.count().where(self._owned(table))

    def update(self, table: type[Table], values: dict[Any, Any]) -> Update:
        return table.update(values).where(self._owned(table))

    def delete(self, table: type[Table]) -> Delete:
        return table.delete().where(self._owned(table))

    def new(self, table: type[T], **values: Any) -> T:
        """A new row of ``table`` that belongs to this association."""
        return table(association=self.id, **values)

    @classmethod
    def from_row(cls, row: dict[str, Any], city: dict[str, Any] | None = None) -> Tenant:
        return cls(id=row["id"], slug=row["slug"], name=row["name"], city_id=row["city"], row=row, city=city or {})

"""Statements that Django compiles once per process and runs many times.

Building a queryset's SQL (filters, unions over every job kind, joins) costs the
web process and the workers more CPU than the database spends running it: the
per-user bound on active jobs, checked on every submission, took ~18% of a web
process's CPU under load, most of it compiling the same union again. A
``CompiledQuery`` builds its queryset once, with placeholder values for its
parameters, keeps the SQL and the parameter list, and afterwards only swaps the
placeholders for the call's values. The SQL is the ORM's own, so it follows the
models; it is compiled again when the database vendor or the set of registered
job kinds (``version``) changes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

from django.db import connection
from django.db.models import Model, QuerySet

# Placeholders stand for 64-bit ids (primary and foreign keys, positive big integers):
# within every such field's range, so Django compiles the filter, and far above any id
# a table will reach.
_PLACEHOLDER_BASE = 2**62 + 7919


class CompiledQuery:
    """``build(**placeholders)`` returns the queryset; ``wrap`` (a format string with
    one ``{}``) encloses its SQL, e.g. ``"SELECT COUNT(*) FROM ({}) AS counted"``.
    ``version()`` returns anything hashable that changes when the query would."""

    def __init__(
        self,
        build: Callable[..., QuerySet],
        *names: str,
        text: tuple[str, ...] = (),
        wrap: str = "{}",
        version: Callable[[], Hashable] = lambda: None,
    ) -> None:
        self.build = build
        self.names = names
        self.text = text  # parameters that are strings, not ids
        self.wrap = wrap
        self.version = version
        self._compiled: dict[Hashable, tuple[str, list[Any]]] = {}
        self._lock = threading.Lock()

    def _sql(self) -> tuple[str, list[Any]]:
        key = (connection.vendor, self.version())
        compiled = self._compiled.get(key)
        if compiled is None:
            placeholders = self._placeholders()
            sql, params = self.build(**placeholders).query.sql_with_params()
            compiled = (self.wrap.format(sql), list(params))
            with self._lock:
                self._compiled[key] = compiled
        return compiled

    def _placeholders(self) -> dict[str, Any]:
        placeholders: dict[str, Any] = {
            name: _PLACEHOLDER_BASE + index for index, name in enumerate(self.names)
        }
        placeholders.update({name: f"\x00placeholder:{name}\x00" for name in self.text})
        return placeholders

    def _bound(self, values: dict[str, Any]) -> tuple[str, list[Any]]:
        sql, params = self._sql()
        by_placeholder = {placeholder: values[name] for name, placeholder in self._placeholders().items()}
        # On PostgreSQL Django hands integers over wrapped (psycopg's Int8, an int): the
        # value goes in the same wrapper.
        return sql, [
            type(param)(by_placeholder[param])
            if isinstance(param, int | str) and param in by_placeholder
            else param
            for param in params
        ]

    def rows(self, **values: Any) -> list[tuple]:
        sql, bound = self._bound(values)
        with connection.cursor() as cursor:
            cursor.execute(sql, bound)
            return cursor.fetchall()

    def instances(self, model: type[Model], **values: Any) -> list[Model]:
        """The rows as ``model`` instances (the queryset must select that model's
        columns, without select_related; fields it defers load when first read)."""
        sql, bound = self._bound(values)
        return list(model.objects.raw(sql, bound))

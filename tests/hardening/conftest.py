"""Fixtures shared with other test folders."""

from tests.line.conftest import fake_line, line_tenant  # noqa: F401

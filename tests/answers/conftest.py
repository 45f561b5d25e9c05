"""The LINE fixtures (fake LINE server, an association with a channel) for the answers tests."""

from tests.line.conftest import fake_line, line_tenant  # noqa: F401

import os
import subprocess
import sys


def run_cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "chonaikai", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


def test_help_lists_every_command_and_setting():
    result = run_cli("--help")
    assert result.returncode == 0
    for name in ("migrate", "tenants", "serve", "worker", "demo"):
        assert name in result.stdout
    assert "CHONAIKAI_DATABASE_URL" in result.stdout
    assert "CHONAIKAI_SMTP_TLS" in result.stdout


def test_subcommand_help():
    result = run_cli("tenants", "--help")
    assert result.returncode == 0
    assert "sync" in result.stdout
    result = run_cli("worker", "--help")
    assert "--once" in result.stdout


def test_bad_setting_stops_with_one_line_naming_the_variable():
    result = run_cli("migrate", env={"CHONAIKAI_SMTP_TLS": "ssl"})
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if "CHONAIKAI_SMTP_TLS" in line]
    assert len(lines) == 1
    assert lines[0].startswith("configuration error:")
    assert "Traceback" not in result.stderr

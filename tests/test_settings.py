import pytest

from chonaikai.settings import DEV_SECRET_KEY, SettingsError, load_settings


def test_defaults_run_a_fresh_clone_on_sqlite():
    settings = load_settings({})
    assert settings.is_sqlite
    assert settings.database_url.endswith("var/chonaikai.sqlite3")
    assert settings.secret_key == DEV_SECRET_KEY
    assert settings.smtp_tls == "none"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CHONAIKAI_DATABASE_URL", "mysql://localhost/x"),
        ("CHONAIKAI_DATABASE_URL", "postgresql:///nohost"),
        ("CHONAIKAI_DATABASE_URL", "sqlite:///"),
        ("CHONAIKAI_SMTP_PORT", "smtp"),
        ("CHONAIKAI_SMTP_PORT", "70000"),
        ("CHONAIKAI_SMTP_TLS", "ssl"),
        ("CHONAIKAI_BASE_URL", "example.jp"),
        ("CHONAIKAI_LINE_API_BASE", "ftp://x"),
        ("CHONAIKAI_SECRET_KEY", "short"),
        ("CHONAIKAI_ENV", "staging"),
        ("CHONAIKAI_DELIVERY_LEASE_SECONDS", "1"),
        ("CHONAIKAI_TENANTS_DIR", "/no/such/folder"),
        ("CHONAIKAI_BEHIND_PROXY", "maybe"),
    ],
)
def test_a_bad_value_names_its_variable(name, value):
    with pytest.raises(SettingsError) as error:
        load_settings({name: value})
    assert name in str(error.value)
    assert "\n" not in str(error.value)


def test_production_requires_a_secret_key():
    with pytest.raises(SettingsError, match="CHONAIKAI_SECRET_KEY"):
        load_settings({"CHONAIKAI_ENV": "production"})
    settings = load_settings({"CHONAIKAI_ENV": "production", "CHONAIKAI_SECRET_KEY": "x" * 40})
    assert not settings.is_dev


def test_database_url_falls_back_to_flys_database_url():
    settings = load_settings({"DATABASE_URL": "postgresql://app@db.internal:5432/chonaikai"})
    assert settings.database_url == "postgresql://app@db.internal:5432/chonaikai"
    settings = load_settings(
        {"DATABASE_URL": "postgresql://a@b:5432/c", "CHONAIKAI_DATABASE_URL": "sqlite:///x.sqlite3"}
    )
    assert settings.database_url == "sqlite:///x.sqlite3"


def test_values_are_parsed():
    settings = load_settings(
        {
            "CHONAIKAI_SMTP_PORT": "587",
            "CHONAIKAI_SMTP_TLS": "starttls",
            "CHONAIKAI_BASE_URL": "https://chonaikai.example.jp/",
            "CHONAIKAI_BEHIND_PROXY": "1",
        }
    )
    assert settings.smtp_port == 587
    assert settings.smtp_tls == "starttls"
    assert settings.base_url == "https://chonaikai.example.jp"
    assert settings.behind_proxy is True

import chonaikai.piccolo_conf as piccolo_conf
from chonaikai.db import PostgresEngine, SharedSQLiteEngine, postgres_config


async def test_healthz_ok_when_database_answers(client):
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_healthz_503_when_database_unreachable(client, monkeypatch, tmp_path):
    if piccolo_conf.DB.engine_type == "sqlite":
        # A file in a folder that does not exist cannot be opened.
        broken = SharedSQLiteEngine(path=str(tmp_path / "missing" / "db.sqlite3"))
    else:
        broken = PostgresEngine(config=postgres_config("postgresql://postgres@127.0.0.1:1/nothing"))
    monkeypatch.setattr(piccolo_conf, "DB", broken)
    response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "error"


async def test_liveness_answers_without_the_database(client, monkeypatch, tmp_path):
    monkeypatch.setattr(piccolo_conf, "DB", SharedSQLiteEngine(path=str(tmp_path / "missing" / "db.sqlite3")))
    response = await client.get("/healthz/live")
    assert response.status_code == 200 and response.json() == {"status": "ok"}

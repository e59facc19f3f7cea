"""Schema versioning: head revision, Alembic vs create_all, old/new/foreign databases, upgrade."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from nas._types import Objective, Proposal
from nas.exceptions import ArtifactNotFoundError, SchemaVersionError, StorageError
from nas.storage import HEAD_REVISION, RDBStorage, current_revision, upgrade
from nas.storage._models import Base
from nas.storage._schema import alembic_config, known_revisions, script_location


def _reflect(url: str) -> dict[str, object]:
    """Tables, columns (name, type affinity, nullable), PK, FKs, uniques, indexes of a DB."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        inspector = sa.inspect(engine)
        schema: dict[str, object] = {}
        for table in sorted(inspector.get_table_names()):
            schema[table] = {
                "columns": [
                    (c["name"], type(c["type"]).__name__, c["nullable"])
                    for c in inspector.get_columns(table)
                ],
                "pk": inspector.get_pk_constraint(table)["constrained_columns"],
                "fks": sorted(
                    (
                        fk["name"],
                        tuple(fk["constrained_columns"]),
                        fk["referred_table"],
                        fk["options"].get("ondelete"),
                    )
                    for fk in inspector.get_foreign_keys(table)
                ),
                "uniques": sorted(
                    (u["name"], tuple(u["column_names"]))
                    for u in inspector.get_unique_constraints(table)
                ),
                "indexes": sorted(
                    (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                    for i in inspector.get_indexes(table)
                ),
            }
        return schema
    finally:
        engine.dispose()


def test_head_revision_is_alembic_script_head() -> None:
    script = ScriptDirectory(str(script_location()))
    assert script.get_heads() == [HEAD_REVISION]
    assert known_revisions() == ["v0.1.0.a", "v0.1.0.b", "v0.2.0.a", "v0.3.0.a", "v0.4.0.a"]
    for revision in known_revisions():  # ids are the file names
        assert (script_location() / "versions" / f"{revision}.py").is_file()


def test_alembic_upgrade_of_empty_db_equals_create_all(storage_url: str) -> None:
    assert current_revision(storage_url) is None
    assert upgrade(storage_url) == (None, HEAD_REVISION)
    assert current_revision(storage_url) == HEAD_REVISION
    engine = sa.create_engine(storage_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()
    command.check(alembic_config(storage_url))  # autogenerate via env.py: nothing to add
    # Same reflected schema as create_all: migrate down to nothing, let RDBStorage create it.
    migrated = _reflect(storage_url)
    command.downgrade(alembic_config(storage_url), "base")
    assert set(_reflect(storage_url)) == {"alembic_version"}
    assert current_revision(storage_url) is None
    RDBStorage(storage_url).dispose()
    assert current_revision(storage_url) == HEAD_REVISION
    assert _reflect(storage_url) == migrated


def test_upgrading_an_up_to_date_db_is_a_no_op(storage_url: str) -> None:
    storage = RDBStorage(storage_url)
    study_id = storage.create_study("s", [Objective("y", "minimize")], {}, {"name": "r"}, 1)
    storage.add_trials(study_id, [Proposal({"x": 1})])
    before = storage.get_trials(study_id)
    storage.dispose()
    schema = _reflect(storage_url)
    assert upgrade(storage_url) == (HEAD_REVISION, HEAD_REVISION)
    assert _reflect(storage_url) == schema
    reopened = RDBStorage(storage_url)
    assert reopened.get_trials(study_id) == before
    reopened.dispose()


def test_upgrade_from_previous_revision_keeps_artifacts_and_adds_blobs(
    storage_url: str,
) -> None:
    """v0.1.0.b -> v0.2.0.a adds artifact_blobs only; path-only artifacts stay, unstored."""
    assert upgrade(storage_url, "v0.1.0.b") == (None, "v0.1.0.b")
    engine = sa.create_engine(storage_url, poolclass=sa.pool.NullPool)
    try:
        assert "artifact_blobs" not in sa.inspect(engine).get_table_names()
        with engine.begin() as connection:
            study_id = connection.execute(
                sa.text(
                    "INSERT INTO studies (name, space_json, searcher_json, seed, created_at, "
                    "updated_at) VALUES ('old', '{}', '{\"name\": \"random\"}', 1, "
                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) RETURNING id"
                )
            ).scalar_one()
            connection.execute(
                sa.text(
                    "INSERT INTO study_objectives (study_id, idx, name, direction) "
                    "VALUES (:s, 0, 'y', 'minimize')"
                ),
                {"s": study_id},
            )
            connection.execute(
                sa.text(
                    "INSERT INTO artifacts (study_id, kind, path, sha256, size, created_at) "
                    "VALUES (:s, 'plot', '/old.html', :h, 3, CURRENT_TIMESTAMP)"
                ),
                {"s": study_id, "h": "a" * 64},
            )
        before = _reflect(storage_url)
        assert upgrade(storage_url, "v0.2.0.a") == ("v0.1.0.b", "v0.2.0.a")
        after = _reflect(storage_url)
        assert set(after) - set(before) == {"artifact_blobs"}
        assert {t: after[t] for t in before} == before
        command.downgrade(alembic_config(storage_url), "v0.1.0.b")
        assert _reflect(storage_url) == before
        assert upgrade(storage_url) == ("v0.1.0.b", HEAD_REVISION)
    finally:
        engine.dispose()
    storage = RDBStorage(storage_url)
    try:
        (old,) = storage.get_artifacts(study_id)
        assert (old.path, old.stored) == ("/old.html", False)
        with pytest.raises(ArtifactNotFoundError, match="add_artifact"):
            storage.read_artifact(old.artifact_id)
        new = storage.store_artifact(study_id, "ckpt", "n.pt", b"new")
        assert storage.read_artifact(new) == b"new"
    finally:
        storage.dispose()


def test_newer_revision_asks_to_upgrade_nas(sqlite_url: str) -> None:
    RDBStorage(sqlite_url).dispose()
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = 'v9.9.9.z'")
    engine.dispose()
    with pytest.raises(SchemaVersionError, match="newer nas; upgrade nas"):
        RDBStorage(sqlite_url)
    with pytest.raises(SchemaVersionError, match=r"v9\.9\.9\.z"):
        upgrade(sqlite_url)


def test_foreign_tables_without_version_are_refused(sqlite_url: str) -> None:
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE studies (id INTEGER PRIMARY KEY)")
    engine.dispose()
    with pytest.raises(SchemaVersionError, match="no alembic_version"):
        RDBStorage(sqlite_url)
    with pytest.raises(SchemaVersionError, match="no alembic_version"):
        upgrade(sqlite_url)
    assert current_revision(sqlite_url) is None


def test_empty_db_without_create_is_refused(sqlite_url: str) -> None:
    assert current_revision(sqlite_url) is None
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()  # reading created nothing
    with pytest.raises(SchemaVersionError, match="empty"):
        RDBStorage(sqlite_url, create=False)
    RDBStorage(sqlite_url).dispose()
    RDBStorage(sqlite_url, create=False).dispose()  # exists now


def test_unreachable_database_names_url_without_password() -> None:
    url = "postgresql+psycopg://user:s3cret@127.0.0.1:1/nowhere"
    with pytest.raises(StorageError, match="cannot connect") as info:
        RDBStorage(url, engine_kwargs={"connect_args": {"connect_timeout": 2}})
    assert "s3cret" not in str(info.value)
    assert "user:***@127.0.0.1:1/nowhere" in str(info.value)


def test_sqlite_in_missing_directory_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="cannot connect"):
        RDBStorage(f"sqlite:///{tmp_path}/no/such/dir/nas.db")


def test_invalid_url_is_a_storage_error() -> None:
    with pytest.raises(StorageError, match="invalid storage URL"):
        RDBStorage("not a url")
    with pytest.raises(StorageError):
        RDBStorage("nosuchdialect://x")


def test_script_location_prefers_the_wheel_copy(tmp_path: Path, monkeypatch) -> None:
    import nas

    package = tmp_path / "site-packages" / "nas"
    (package / "_alembic").mkdir(parents=True)
    monkeypatch.setattr(nas, "__file__", str(package / "__init__.py"))
    with pytest.raises(StorageError, match="cannot find the nas database migrations"):
        script_location()
    (package / "_alembic" / "env.py").write_text("")
    assert script_location() == package / "_alembic"

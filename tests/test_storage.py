"""The database's migrations and the tables the code uses agree, on SQLite and on PostgreSQL."""
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from app.storage.database import open_database
from app.storage.schema import metadata
from tests.test_history import database_url, postgres  # noqa: F401 - the same two databases


def test_the_migrated_schema_is_the_schema_the_code_uses(database_url):  # noqa: F811
    engine = open_database(database_url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []
    assert set(sa.inspect(engine).get_table_names()) >= set(metadata.tables)


def test_conversations_belong_to_their_user(database_url):  # noqa: F811
    import pytest

    from app.conversation.store import ConversationNotFound, ConversationStore

    store = ConversationStore(open_database(database_url))
    first = store.create("alice", "How do I keep a GPT-4o chatbot up through a regional outage?")
    store.append("alice", first, "user", "How do I keep a GPT-4o chatbot up through a regional outage?")
    store.append("alice", first, "assistant", "Deploy to two regions. [1]", {"citations": [{"number": 1}]})
    second = store.create("alice", "PTU or PAYG?")
    store.append("alice", second, "user", "PTU or PAYG?")
    assert [c.id for c in store.list("alice")] == [second, first]
    assert [(m.role, m.answer) for m in store.messages("alice", first)] == [
        ("user", None), ("assistant", {"citations": [{"number": 1}]})]
    assert store.list("bob") == []
    for attempt in (lambda: store.messages("bob", first), lambda: store.delete("bob", first),
                    lambda: store.append("bob", first, "user", "hi")):
        with pytest.raises(ConversationNotFound):
            attempt()
    store.delete("alice", first)
    assert [c.id for c in store.list("alice")] == [second]
    with pytest.raises(ConversationNotFound):
        store.messages("alice", first)

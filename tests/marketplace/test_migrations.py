"""The migrations build exactly the schema the models describe."""

from marketplace.migrate import pending_model_changes


def test_models_and_migrations_agree(app):
    assert pending_model_changes(app.extensions["db_engine"]) == []

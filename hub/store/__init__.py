"""The hub's own tables: database, models, audit chain, idempotency records, account links and the
dev seed."""

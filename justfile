# schedlite recipes. The README's two commands work without `just`; these are shortcuts.

db_url := "sqlite:target/sqlx-dev.db"
pg_url := "postgres://postgres@127.0.0.1:5432/schedlite_dev"

# Run the service on ./schedlite.db (prints an admin key on first start)
run:
    cargo run --release -- serve

# Run every test (uses the committed .sqlx offline data; no database needed)
test *args:
    cargo test {{args}}

# Format, lint and test, as CI does
check:
    cargo fmt --check
    SQLX_OFFLINE=true cargo clippy --workspace --all-targets -- -D warnings
    SQLX_OFFLINE=true cargo test

# Lint only
lint:
    cargo clippy --workspace --all-targets -- -D warnings

# Create the development databases the query macros check against (a SQLite file for the
# service crate, a PostgreSQL database for crates/postgres)
db:
    mkdir -p target
    rm -f target/sqlx-dev.db
    DATABASE_URL={{db_url}} sqlx database create
    DATABASE_URL={{db_url}} sqlx migrate run --source migrations/sqlite
    sqlx database drop -y -D {{pg_url}} || true
    sqlx database create -D {{pg_url}}
    sqlx migrate run --source migrations/postgres -D {{pg_url}}

# Regenerate .sqlx/ after changing a query or a migration (commit the result)
prepare: db
    DATABASE_URL={{db_url}} SCHEDLITE_POSTGRES_PREPARE_URL={{pg_url}} cargo sqlx prepare --workspace -- --all-targets

# The whole CI script
ci:
    bash .ci/run

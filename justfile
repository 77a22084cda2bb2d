# schedlite recipes. The README's two commands work without `just`; these are shortcuts.

db_url := "sqlite:target/sqlx-dev.db"

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

# Create the development database the query macros check against
db:
    mkdir -p target
    rm -f target/sqlx-dev.db
    DATABASE_URL={{db_url}} sqlx database create
    DATABASE_URL={{db_url}} sqlx migrate run

# Regenerate .sqlx/ after changing a query or a migration (commit the result)
prepare: db
    DATABASE_URL={{db_url}} cargo sqlx prepare -- --all-targets

# The whole CI script
ci:
    bash .ci/run

# backup-audit task runner: `just` lists the recipes.

default:
    @just --list

# Run the whole demo: emulator, throwaway PostgreSQL, ingest, reports.
demo:
    cargo run --release -- demo

# Run every test (starts its own PostgreSQL servers and emulators).
test:
    cargo test --workspace

# Formatting and lints, as CI checks them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Benchmarks: model decoding (criterion) and the database write path.
bench:
    cargo bench -p backup-model --bench decode
    cargo bench -p backup-ingest --bench store

# What CI runs.
ci: lint test

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

# Benchmarks: model decoding (criterion), the database write path, and the
# whole pipeline (list, ingest beside psql \copy, 10k/100k/1M jobs at scale).
bench:
    cargo bench -p backup-model --bench decode
    cargo bench -p backup-ingest --bench store
    cargo bench --bench pipeline

# Render `report html` of a known data set with headless Chromium into
# target/report-screenshot.png (needs `apt-get install chromium`).
report-screenshot:
    REPORT_SCREENSHOT="$PWD/target/report-screenshot.png" cargo test --test integration the_html_page_has_charts_and_loads_nothing -- --nocapture
    @echo "screenshot: target/report-screenshot.png"

# What CI runs.
ci: lint test

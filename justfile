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
    cargo publish --dry-run -p backup-model --allow-dirty

# Benchmarks: model decoding (criterion), the database write path, and the
# whole pipeline (list; ingest beside psql \copy and a boto3 + psycopg script;
# an organization at 150 ms a call; 10k/100k/1M jobs at scale).
bench:
    cargo bench -p backup-model --bench decode
    cargo bench -p backup-ingest --bench store
    cargo bench --bench pipeline

# The figures of BENCHMARKS.md "Organization at AWS's latency" and the 100k
# ingest against boto3 + psycopg (needs `pip install boto3 'psycopg[binary]'`).
bench-scale:
    cargo bench --bench pipeline -- ingest org

# 17,000 targets (1,000 accounts x 17 regions, empty) at 150 ms a call: long.
bench-org-17k:
    cargo bench --bench pipeline -- org-17k

# Render `report html` of a known data set with headless Chromium into
# target/report-screenshot.png (needs `apt-get install chromium`).
report-screenshot:
    REPORT_SCREENSHOT="$PWD/target/report-screenshot.png" cargo test --test integration the_html_page_has_charts_and_loads_nothing -- --nocapture
    @echo "screenshot: target/report-screenshot.png"

# The seeded chaos run at a larger size than the test suite's: cron-like
# ingests against a misbehaving emulator, each checked against its truth and
# `verify`. Size with CHAOS_RUNS (runs), CHAOS_JOBS (jobs per target) and
# CHAOS_SEED, e.g. `CHAOS_SEED=3 just chaos`.
chaos runs="40" jobs="3000":
    CHAOS_RUNS="${CHAOS_RUNS:-{{runs}}}" CHAOS_JOBS="${CHAOS_JOBS:-{{jobs}}}" cargo test --test integration chaos:: -- --nocapture

# What CI runs.
ci: lint test

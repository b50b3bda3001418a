//! End-to-end tests of the `backup-audit` binary: the real binary, the real
//! aws-sdk-backup client over HTTP to the emulator, and a real PostgreSQL
//! server started by the tests.

mod chaos;
mod cli;
mod coverage;
mod ingest;
mod listings;
mod partitions;
mod report;
mod scale;
mod security;
mod support;
mod terminal;
mod verify;
mod workers;

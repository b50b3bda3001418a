//! The emulator driven by the real `aws-sdk-backup` (and `aws-sdk-sts`,
//! `aws-config`) clients over HTTP. One test binary, several modules, to keep
//! link times down.

mod aging;
mod clock;
mod common;
mod contract;
mod faults;
mod listing;
mod organizations;
mod paging;
mod sts;

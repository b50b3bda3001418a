//! How fast the emulator serves pages, alone and through the real SDK.
//!
//! A program that prints figures, not a test: `cargo bench -p backup-emulator`.
//! Set `BENCH_JOBS` to change the number of jobs listed (default 100000).

use std::time::{Duration, Instant};

use aws_sdk_backup::config::{BehaviorVersion, Credentials, Region};
use backup_emulator::{Emulator, EmulatorConfig};
use backup_model::Timestamp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn rate(n: usize, d: Duration) -> String {
    format!("{:>9.0} jobs/s", n as f64 / d.as_secs_f64())
}

/// Pages through ListCopyJobs over bare HTTP, returning (jobs, pages, bytes).
async fn list_raw(emulator: &Emulator) -> (usize, usize, usize) {
    let (mut jobs, mut pages, mut bytes) = (0, 0, 0);
    let mut token: Option<String> = None;
    loop {
        let target = match &token {
            Some(t) => format!("/copy-jobs/?maxResults=1000&nextToken={t}"),
            None => "/copy-jobs/?maxResults=1000".to_owned(),
        };
        let mut stream = tokio::net::TcpStream::connect(emulator.local_addr())
            .await
            .unwrap();
        let request = format!("GET {target} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.unwrap();
        // Count and find the token by scanning, not parsing: this measures the
        // emulator, not a JSON parser (the SDK run below adds one).
        let start = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let body = std::str::from_utf8(&response[start..]).unwrap();
        jobs += body.matches("\"CopyJobId\":").count();
        pages += 1;
        bytes += body.len();
        match body.rfind("\"NextToken\":\"") {
            Some(at) => {
                let rest = &body[at + 13..];
                token = Some(rest[..rest.find('"').unwrap()].to_owned());
            }
            None => return (jobs, pages, bytes),
        }
    }
}

#[tokio::main]
async fn main() {
    let jobs: usize = std::env::var("BENCH_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let emulator = Emulator::start(
        EmulatorConfig {
            jobs_per_target: jobs,
            start: Timestamp::parse_rfc3339("2026-01-26T12:00:00Z").unwrap(),
            ..EmulatorConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();

    let began = Instant::now();
    let truth = emulator.jobs("123456789012", "us-east-1");
    let elapsed = began.elapsed();
    println!(
        "generate  {:>7} jobs in memory           {:>8.3} s {}",
        truth.len(),
        elapsed.as_secs_f64(),
        rate(truth.len(), elapsed)
    );
    drop(truth);

    let began = Instant::now();
    let (n, pages, bytes) = list_raw(&emulator).await;
    let elapsed = began.elapsed();
    println!(
        "raw HTTP  {n:>7} jobs, {pages:>4} pages, {:>4} MB {:>8.3} s {}",
        bytes / 1_000_000,
        elapsed.as_secs_f64(),
        rate(n, elapsed)
    );

    let config = aws_sdk_backup::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDBENCH", "bench", None, None, "bench"))
        .endpoint_url(emulator.endpoint_url())
        .build();
    let client = aws_sdk_backup::Client::from_conf(config);
    let began = Instant::now();
    let (mut n, mut pages) = (0, 0);
    let mut token: Option<String> = None;
    loop {
        let page = client
            .list_copy_jobs()
            .max_results(1000)
            .set_next_token(token.take())
            .send()
            .await
            .unwrap();
        n += page.copy_jobs().len();
        pages += 1;
        match page.next_token() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    let elapsed = began.elapsed();
    println!(
        "SDK       {n:>7} jobs, {pages:>4} pages          {:>8.3} s {}",
        elapsed.as_secs_f64(),
        rate(n, elapsed)
    );
    emulator.shutdown().await;
}

//! Helpers shared by the tests: an emulator, SDK clients pointed at it, and a
//! bare HTTP/1.1 client for what the SDK hides (status lines, headers, bodies).

use std::time::Duration;

use aws_sdk_backup::config::retry::RetryConfig;
use aws_sdk_backup::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_backup::operation::list_copy_jobs::builders::ListCopyJobsFluentBuilder;
use aws_sdk_backup::Client;
use backup_emulator::{Emulator, EmulatorConfig};
use backup_model::{CopyJob, Timestamp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A fixed start so that every run sees the same data.
pub fn start_time() -> Timestamp {
    Timestamp::parse_rfc3339("2026-01-26T12:00:00Z").unwrap()
}

pub fn config(jobs_per_target: usize) -> EmulatorConfig {
    EmulatorConfig {
        jobs_per_target,
        start: start_time(),
        ..EmulatorConfig::default()
    }
}

pub async fn start(config: EmulatorConfig) -> Emulator {
    Emulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("emulator starts")
}

pub fn static_credentials() -> Credentials {
    Credentials::new("AKIDEMULATORTEST", "not-a-secret", None, None, "test")
}

/// A Backup client for `region` with static credentials and no retries.
pub fn client(emulator: &Emulator, region: &str) -> Client {
    client_with(emulator, region, RetryConfig::disabled())
}

pub fn client_with(emulator: &Emulator, region: &str, retry: RetryConfig) -> Client {
    let config = aws_sdk_backup::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(static_credentials())
        .endpoint_url(emulator.endpoint_url())
        .retry_config(retry)
        .build();
    Client::from_conf(config)
}

/// A Backup client whose access key names `account` (`ASIA` + account +
/// 4 characters, the shape the emulator's AssumeRole hands out).
pub fn client_for_account(emulator: &Emulator, account: &str, region: &str) -> Client {
    let config = aws_sdk_backup::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(Credentials::new(
            format!("ASIA{account}TEST"),
            "not-a-secret",
            Some("session".to_owned()),
            None,
            "test",
        ))
        .endpoint_url(emulator.endpoint_url())
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(config)
}

/// Standard retries, many attempts, tiny backoff: for fault tests.
pub fn patient_retries() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(10)
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(5))
}

/// Pages through a ListCopyJobs request, returning the jobs (as the model)
/// and the size of each page.
pub async fn list_all(request: ListCopyJobsFluentBuilder) -> (Vec<CopyJob>, Vec<usize>) {
    let mut jobs = Vec::new();
    let mut pages = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = request
            .clone()
            .set_next_token(token.take())
            .send()
            .await
            .expect("ListCopyJobs succeeds");
        pages.push(page.copy_jobs().len());
        jobs.extend(page.copy_jobs().iter().map(CopyJob::from));
        match page.next_token() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
        assert!(pages.len() < 100_000, "paging does not end");
    }
    (jobs, pages)
}

/// A response read off the wire.
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Raw {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// Sends one HTTP/1.1 request and reads the whole response.
pub async fn raw(
    emulator: &Emulator,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Raw {
    let mut stream = tokio::net::TcpStream::connect(emulator.local_addr())
        .await
        .unwrap();
    let mut request = format!(
        "{method} {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
        emulator.local_addr(),
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).await.unwrap();
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Raw {
        status,
        headers,
        body: bytes[split + 4..].to_vec(),
    }
}

/// A SigV4-shaped Authorization header naming a key and a region.
pub fn authorization(key: &str, region: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential={key}/20260126/{region}/backup/aws4_request, \
         SignedHeaders=host;x-amz-date, Signature=0000"
    )
}

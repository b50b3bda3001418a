//! The command line as people and their tools use it: logs that a file or
//! cron mail can read, `RUST_LOG`, the AWS CLI's `--output` and filter names,
//! one duration grammar.

use backup_emulator::Faults;

use crate::support::*;

/// The binary without any logging or colour setting inherited from the
/// environment that runs the tests.
fn plain_binary() -> tokio::process::Command {
    let mut cmd = binary();
    for var in ["RUST_LOG", "NO_COLOR", "CLICOLOR_FORCE", "COLUMNS"] {
        cmd.env_remove(var);
    }
    cmd
}

fn list_cmd(endpoint: &str) -> tokio::process::Command {
    let mut cmd = plain_binary();
    cmd.args(["list", "--region", "us-east-1", "--endpoint-url", endpoint])
        .env("AWS_ENDPOINT_URL", endpoint);
    cmd
}

/// Regression (logs in cron mail carried `^[[2m...^[[0m ^[[32m INFO`): when
/// stderr is a file or a pipe, log lines carry no escape codes.
#[tokio::test(flavor = "multi_thread")]
async fn logs_in_a_file_have_no_escape_codes() {
    let emu = emulator(20, &["us-east-1"], Faults::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("list.log");
    let file = std::fs::File::create(&log).unwrap();
    // `output()` would pipe stderr; a file is what cron or `2>log` give.
    let status = list_cmd(&emu.endpoint_url())
        .stdout(std::process::Stdio::null())
        .stderr(file)
        .status()
        .await
        .unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("listed"), "an info line is logged: {text}");
    assert!(
        !text.contains('\u{1b}'),
        "no escape code in a log file: {text:?}"
    );
}

/// Regression (`RUST_LOG` was ignored; only `BACKUP_AUDIT_LOG` was read):
/// both set the log filter, `BACKUP_AUDIT_LOG` first.
#[tokio::test(flavor = "multi_thread")]
async fn rust_log_sets_the_log_filter() {
    let emu = emulator(20, &["us-east-1"], Faults::default()).await;
    let out = run(list_cmd(&emu.endpoint_url()).env("RUST_LOG", "error")).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("listed"),
        "RUST_LOG=error hides info lines: {}",
        stderr(&out)
    );
    let out = run(list_cmd(&emu.endpoint_url())
        .env("RUST_LOG", "error")
        .env("BACKUP_AUDIT_LOG", "info"))
    .await;
    assert!(
        stderr(&out).contains("listed"),
        "BACKUP_AUDIT_LOG wins: {}",
        stderr(&out)
    );
}

/// Regression (`--output json`, as the AWS CLI spells it, was refused):
/// every command that prints data accepts `--output` wherever it accepts
/// `--format`.
#[tokio::test(flavor = "multi_thread")]
async fn output_is_accepted_wherever_format_is() {
    let emu = emulator(20, &["us-east-1"], Faults::default()).await;
    let endpoint = emu.endpoint_url();
    let out = run(list_cmd(&endpoint).args(["--output", "json"])).await;
    assert!(out.status.success(), "list: {}", stderr(&out));
    let first = String::from_utf8(out.stdout).unwrap();
    let first = first.lines().next().unwrap().to_owned();
    let job: serde_json::Value = serde_json::from_str(&first).unwrap();
    let id = job["CopyJobId"].as_str().unwrap().to_owned();

    let out = run(list_cmd(&endpoint).args(["--output", "table", "--wide"])).await;
    assert!(out.status.success(), "list table: {}", stderr(&out));
    assert!(String::from_utf8(out.stdout).unwrap().contains(&id));
    // Without --wide, the table fits the width people have.
    let out = run(list_cmd(&endpoint)
        .env("COLUMNS", "100")
        .args(["--output", "table"]))
    .await;
    let table = String::from_utf8(out.stdout).unwrap();
    assert_eq!(table.lines().count(), 21, "{table}");
    assert!(table.lines().all(|l| l.chars().count() <= 100), "{table}");

    let out = run(plain_binary()
        .env("AWS_ENDPOINT_URL", &endpoint)
        .args(["describe", "--region", "us-east-1", "--output", "json"])
        .args(["--endpoint-url", &endpoint, &id]))
    .await;
    assert!(out.status.success(), "describe: {}", stderr(&out));
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), first);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("job.json");
    std::fs::write(&file, &first).unwrap();
    let out = run(plain_binary()
        .args(["decode", "--output", "json"])
        .arg(&file))
    .await;
    assert!(out.status.success(), "decode: {}", stderr(&out));
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), first);

    for command in ["list", "describe", "decode", "report"] {
        let out = run(plain_binary().args([command, "--help"])).await;
        let help = String::from_utf8(out.stdout).unwrap();
        assert!(
            help.contains("--output"),
            "{command} --help names --output:\n{help}"
        );
    }
}

/// Regression (the AWS CLI filter names worked but `--help` hid them).
#[tokio::test]
async fn help_names_the_aws_cli_filter_names() {
    let out = run(plain_binary().args(["list", "--help"])).await;
    let help = String::from_utf8(out.stdout).unwrap();
    for name in [
        "--by-state",
        "--by-created-after",
        "--by-resource-type",
        "--by-destination-vault-arn",
        "--by-account-id",
    ] {
        assert!(help.contains(name), "{name} in list --help:\n{help}");
    }
}

/// Regression (three duration grammars: `--overlap 1h`, the emulator's
/// `1h30m`, `--attempt-timeout 20` in seconds and `--initial-backoff-ms`):
/// every duration is written the same way, with its unit.
#[tokio::test(flavor = "multi_thread")]
async fn durations_are_written_one_way_everywhere() {
    let emu = emulator(20, &["us-east-1"], Faults::default()).await;
    let out = run(list_cmd(&emu.endpoint_url()).args([
        "--attempt-timeout",
        "20s",
        "--operation-timeout",
        "1m30s",
        "--initial-backoff",
        "500ms",
    ]))
    .await;
    assert!(out.status.success(), "{}", stderr(&out));

    // A number without a unit is refused with an example, not read as seconds.
    let out = run(list_cmd(&emu.endpoint_url()).args(["--attempt-timeout", "20"])).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("20s"), "{}", stderr(&out));

    // The same grammar for ages.
    let out = run(list_cmd(&emu.endpoint_url()).args(["--created-after", "1h30m"])).await;
    assert!(out.status.success(), "{}", stderr(&out));
}

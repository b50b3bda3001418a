//! The HTTP side: routes, request ids, fault injection, error bodies.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use backup_model::Timestamp;

use crate::catalog::{list_page, BadToken, Catalog, Paging, Stamp, View};
use crate::organizations::{self, Directory};
use crate::request::{account_of_key, credential_scope, list_params, parse_duration, parse_pairs};
use crate::rng::{format_uuid, mix64};
use crate::sts;
use crate::wire::{describe_body, list_body, WireOptions};
use crate::{Faults, Malformed, RegionStats, Stats};

/// Counters behind [`Stats`].
#[derive(Debug, Default)]
struct Counters {
    total: AtomicU64,
    list: AtomicU64,
    describe: AtomicU64,
    sts: AtomicU64,
    assume_role: AtomicU64,
    assume_role_denied: AtomicU64,
    organizations: AtomicU64,
    control: AtomicU64,
    throttled: AtomicU64,
    errors: AtomicU64,
    malformed: AtomicU64,
    denied: AtomicU64,
    bad_requests: AtomicU64,
    not_found: AtomicU64,
    expired_tokens: AtomicU64,
    broken_pages: AtomicU64,
    listings_started: AtomicU64,
    refused_off_service: AtomicU64,
    jobs_returned: AtomicU64,
    regions: Mutex<BTreeMap<String, RegionStats>>,
    assume_role_by_account: Mutex<BTreeMap<String, u64>>,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Everything the handlers share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub catalog: Catalog,
    pub default_account: String,
    pub default_region: String,
    clock_ms: AtomicI64,
    /// How long jobs are kept, in milliseconds; negative for ever.
    retention_ms: AtomicI64,
    faults: RwLock<Arc<Faults>>,
    /// Backup API calls since the faults were last set, and faults dealt.
    fault_calls: AtomicU64,
    fault_hits: AtomicU64,
    counters: Counters,
    request_serial: AtomicU64,
    request_salt: u64,
    /// Access keys handed out by AssumeRole, with the assumed-role ARN.
    issued: Mutex<HashMap<String, String>>,
    /// The organization Organizations ListAccounts describes.
    directory: Directory,
    /// A state beyond the model that jobs end in, accepted as a filter.
    extra_state: Option<String>,
}

impl Shared {
    pub(crate) fn new(
        catalog: Catalog,
        default_account: String,
        default_region: String,
        start: Timestamp,
        faults: Faults,
        seed: u64,
    ) -> Self {
        Shared {
            catalog,
            default_account,
            default_region,
            clock_ms: AtomicI64::new(start.as_millis()),
            retention_ms: AtomicI64::new(-1),
            faults: RwLock::new(Arc::new(faults)),
            fault_calls: AtomicU64::new(0),
            fault_hits: AtomicU64::new(0),
            counters: Counters::default(),
            request_serial: AtomicU64::new(0),
            request_salt: mix64(seed ^ Timestamp::now().as_millis() as u64),
            issued: Mutex::new(HashMap::new()),
            directory: Directory::default(),
            extra_state: None,
        }
    }

    /// Sets how long jobs are kept.
    pub(crate) fn with_retention(self, retention: Option<std::time::Duration>) -> Self {
        self.set_retention(retention);
        self
    }

    /// Lets ListCopyJobs filter by a state beyond the model.
    pub(crate) fn with_extra_state(mut self, state: Option<String>) -> Self {
        self.extra_state = state;
        self
    }

    /// Sets the organization Organizations calls answer for.
    pub(crate) fn with_directory(mut self, directory: Directory) -> Self {
        self.directory = directory;
        self
    }

    pub(crate) fn now(&self) -> Timestamp {
        Timestamp::UNIX_EPOCH.add_millis(self.clock_ms.load(Ordering::SeqCst))
    }

    /// Sets how long jobs are kept (`None`: for ever).
    pub(crate) fn set_retention(&self, retention: Option<std::time::Duration>) {
        let ms = retention.map_or(-1, |r| i64::try_from(r.as_millis()).unwrap_or(i64::MAX));
        self.retention_ms.store(ms, Ordering::SeqCst);
    }

    /// What a request sees at `at`: the jobs then, less those aged out.
    pub(crate) fn view_at(&self, at: Timestamp) -> View {
        let retention = self.retention_ms.load(Ordering::SeqCst);
        View {
            now: at,
            retention_ms: (retention >= 0).then_some(retention),
        }
    }

    /// What DescribeCopyJob sees: the jobs now.
    pub(crate) fn view(&self) -> View {
        self.view_at(self.now())
    }

    /// The request-count clock of token lifetimes: Backup API calls so far.
    fn backup_calls(&self) -> u64 {
        self.counters.list.load(Ordering::Relaxed) + self.counters.describe.load(Ordering::Relaxed)
    }

    pub(crate) fn advance(&self, ms: i64) -> Timestamp {
        let before = self.clock_ms.fetch_add(ms, Ordering::SeqCst);
        Timestamp::UNIX_EPOCH.add_millis(before.saturating_add(ms))
    }

    pub(crate) fn set_faults(&self, faults: Faults) {
        let mut slot = self.faults.write().unwrap_or_else(|e| e.into_inner());
        *slot = Arc::new(faults);
        // A new fault plan starts its own even spread from the first call.
        self.fault_calls.store(0, Ordering::SeqCst);
        self.fault_hits.store(0, Ordering::SeqCst);
    }

    pub(crate) fn faults(&self) -> Arc<Faults> {
        self.faults
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn stats(&self) -> Stats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            total_requests: get(&c.total),
            list_calls: get(&c.list),
            describe_calls: get(&c.describe),
            sts_calls: get(&c.sts),
            assume_role_calls: get(&c.assume_role),
            assume_role_denied: get(&c.assume_role_denied),
            organizations_calls: get(&c.organizations),
            control_calls: get(&c.control),
            throttled: get(&c.throttled),
            errors: get(&c.errors),
            malformed: get(&c.malformed),
            denied: get(&c.denied),
            bad_requests: get(&c.bad_requests),
            not_found: get(&c.not_found),
            expired_tokens: get(&c.expired_tokens),
            broken_pages: get(&c.broken_pages),
            listings_started: get(&c.listings_started),
            refused_off_service: get(&c.refused_off_service),
            jobs_returned: get(&c.jobs_returned),
            regions: c.regions.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            assume_role_by_account: c
                .assume_role_by_account
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }

    /// A fresh request id, unique within this emulator (the serial goes
    /// through a bijection, so ids never repeat).
    fn request_id(&self) -> String {
        let n = self.request_serial.fetch_add(1, Ordering::Relaxed);
        format_uuid(mix64(n ^ self.request_salt), n ^ self.request_salt, false)
    }

    /// Who is calling: the account from the access key, the region from the
    /// SigV4 credential scope. Signatures are not checked.
    fn caller(&self, headers: &HeaderMap) -> Caller {
        let scope = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(credential_scope);
        let (key, region) = match scope {
            Some((key, region)) => (Some(key.to_owned()), region.to_owned()),
            None => (None, self.default_region.clone()),
        };
        let account = key
            .as_deref()
            .and_then(account_of_key)
            .unwrap_or(&self.default_account)
            .to_owned();
        Caller {
            account,
            region,
            key,
        }
    }

    /// Deals the next fault. Call `n` (counted from the last `set_faults`)
    /// is throttled when it falls in a burst (the last `length` of every
    /// `every` calls); otherwise it is hit, evenly, when
    /// `floor((n+1)·rate) > floor(n·rate)`, and the hits are split between
    /// throttling and errors the same way.
    fn next_fault(&self, faults: &Faults) -> Option<Fault> {
        let throttle = faults.throttle_rate.clamp(0.0, 1.0);
        let error = faults.error_rate.clamp(0.0, 1.0);
        let rate = (throttle + error).min(1.0);
        let burst = faults
            .throttle_burst
            .filter(|b| b.length > 0 && b.every > 0);
        if rate <= 0.0 && burst.is_none() {
            return None;
        }
        let n = self.fault_calls.fetch_add(1, Ordering::SeqCst);
        if let Some(b) = burst {
            if n % b.every >= b.every.saturating_sub(b.length) {
                return Some(Fault::Throttle);
            }
        }
        if !nth_is_hit(n, rate) {
            return None;
        }
        let m = self.fault_hits.fetch_add(1, Ordering::SeqCst);
        Some(if nth_is_hit(m, throttle / (throttle + error)) {
            Fault::Throttle
        } else {
            Fault::Unavailable
        })
    }

    /// The ARN of the caller: the assumed role behind an issued key, else a user.
    fn caller_arn(&self, caller: &Caller) -> String {
        caller
            .key
            .as_deref()
            .and_then(|k| self.issued.lock().ok()?.get(k).cloned())
            .unwrap_or_else(|| format!("arn:aws:iam::{}:user/emulator", caller.account))
    }

    fn count_region(&self, region: &str, describe: bool) {
        let mut regions = self
            .counters
            .regions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let entry = regions.entry(region.to_owned()).or_default();
        if describe {
            entry.describe_calls += 1;
        } else {
            entry.list_calls += 1;
        }
    }
}

/// Whether the `n`-th event (from 0) is one of the `rate` share, spread evenly.
pub(crate) fn nth_is_hit(n: u64, rate: f64) -> bool {
    rate >= 1.0 || (rate > 0.0 && ((n + 1) as f64 * rate).floor() > (n as f64 * rate).floor())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Throttle,
    Unavailable,
}

#[derive(Debug)]
struct Caller {
    account: String,
    region: String,
    key: Option<String>,
}

/// The id of the request being answered.
#[derive(Debug, Clone)]
struct RequestId(String);

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", post(post_root))
        .route("/copy-jobs", get(list_copy_jobs))
        .route("/copy-jobs/", get(list_copy_jobs))
        .route("/copy-jobs/{copy_job_id}", get(describe_copy_job))
        .route("/_emulator/clock", get(clock).post(advance_clock))
        .route("/_emulator/stats", get(stats))
        .fallback(unknown_operation)
        .layer(middleware::from_fn_with_state(shared.clone(), request_id))
        .with_state(shared)
}

/// Counts the request and stamps `x-amzn-RequestId` on every response.
async fn request_id(State(s): State<Arc<Shared>>, mut req: Request, next: Next) -> Response {
    bump(&s.counters.total);
    let id = s.request_id();
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(req).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-amzn-RequestId", value);
    }
    // `Date` is the wall clock, as AWS's is: the SDK compares it with the
    // client's clock (clock-skew correction, and an AccessDenied from a server
    // far off in time is taken for a skew problem and retried). The synthetic
    // timeline the jobs live in travels in its own header, with milliseconds.
    if let Ok(value) = HeaderValue::from_str(&http_date(Timestamp::now())) {
        response.headers_mut().insert(header::DATE, value);
    }
    if let Ok(value) = HeaderValue::from_str(&s.now().to_string()) {
        response.headers_mut().insert(TIMELINE_HEADER, value);
    }
    response
}

/// The response header carrying the synthetic time (RFC 3339, milliseconds).
pub(crate) const TIMELINE_HEADER: &str = "x-emulator-timeline";

/// `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 9110's IMF-fixdate).
fn http_date(t: Timestamp) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let text = t.to_string(); // 2018-01-26T00:11:30.087Z
    let weekday = DAYS[t.as_millis().div_euclid(86_400_000).rem_euclid(7) as usize];
    let month = text[5..7].parse::<usize>().unwrap_or(1).clamp(1, 12);
    format!(
        "{weekday}, {} {} {} {} GMT",
        &text[8..10],
        MONTHS[month - 1],
        &text[0..4],
        &text[11..19]
    )
}

fn json(status: StatusCode, body: Vec<u8>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from(body),
    )
        .into_response()
}

/// An AWS rest-json error: `x-amzn-ErrorType` names it, the body says why.
fn aws_error(status: StatusCode, code: &'static str, body: serde_json::Value) -> Response {
    let mut response = json(status, serde_json::to_vec(&body).unwrap_or_default());
    response
        .headers_mut()
        .insert("x-amzn-ErrorType", HeaderValue::from_static(code));
    response
}

fn invalid_parameter(s: &Shared, message: &str, context: &str) -> Response {
    bump(&s.counters.bad_requests);
    aws_error(
        StatusCode::BAD_REQUEST,
        "InvalidParameterValueException",
        serde_json::json!({
            "Code": "InvalidParameterValueException",
            "Message": message,
            "Context": context,
            "Type": "User",
        }),
    )
}

/// The checks every Backup API call goes through before doing its work:
/// latency, denied accounts, then the dealt faults.
async fn gate(s: &Shared, caller: &Caller, action: &str) -> Result<Arc<Faults>, Response> {
    let faults = s.faults();
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    if faults.deny_accounts.contains(&caller.account) {
        bump(&s.counters.denied);
        let who = s.caller_arn(caller);
        return Err(aws_error(
            StatusCode::FORBIDDEN,
            "AccessDeniedException",
            serde_json::json!({
                "Message": format!(
                    "User: {who} is not authorized to perform: {action} on resource: \
                     arn:aws:backup:{}:{}:* because no identity-based policy allows the {action} action",
                    caller.region, caller.account
                ),
            }),
        ));
    }
    match s.next_fault(&faults) {
        None => Ok(faults),
        Some(Fault::Throttle) => {
            bump(&s.counters.throttled);
            Err(aws_error(
                StatusCode::from_u16(faults.throttle_status.code())
                    .unwrap_or(StatusCode::TOO_MANY_REQUESTS),
                "ThrottlingException",
                serde_json::json!({"message": "Rate exceeded"}),
            ))
        }
        Some(Fault::Unavailable) => {
            bump(&s.counters.errors);
            Err(aws_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailableException",
                serde_json::json!({
                    "Code": "ServiceUnavailableException",
                    "Message": "The service is temporarily unavailable. Please try again later.",
                    "Type": "Server",
                }),
            ))
        }
    }
}

const PROXY_PAGE: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n\
<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

async fn list_copy_jobs(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let caller = s.caller(&headers);
    bump(&s.counters.list);
    s.count_region(&caller.region, false);
    let faults = match gate(&s, &caller, "backup:ListCopyJobs").await {
        Ok(f) => f,
        Err(response) => return response,
    };
    let pairs = parse_pairs(query.as_deref().unwrap_or(""), false);
    let params = match list_params(&pairs, s.extra_state.as_deref()) {
        Ok(p) => p,
        Err(bad) => return invalid_parameter(&s, &bad.message, bad.name),
    };
    if params.next_token.is_none() {
        bump(&s.counters.listings_started);
    }
    let target = s.catalog.get(&caller.account, &caller.region);
    let now = s.now();
    let lag = i64::try_from(faults.listing_lag.as_millis()).unwrap_or(i64::MAX);
    let view = s.view_at(now.add_millis(-lag));
    let applies = |only: &[String], name: &String| only.is_empty() || only.contains(name);
    let paging = Paging {
        clock: Some(Stamp {
            ms: now.as_millis(),
            call: s.backup_calls(),
        }),
        ttl_ms: faults
            .token_ttl
            .map(|t| i64::try_from(t.as_millis()).unwrap_or(i64::MAX)),
        ttl_calls: faults.token_ttl_calls,
        broken: faults.broken_paging.filter(|_| {
            applies(&faults.broken_paging_regions, &caller.region)
                && applies(&faults.broken_paging_accounts, &caller.account)
        }),
    };
    let page = match list_page(
        target,
        view,
        &params.filter,
        params.max_results,
        params.next_token.as_deref(),
        &paging,
    ) {
        Ok(page) => page,
        Err(BadToken::Invalid) => {
            return invalid_parameter(
                &s,
                "Invalid NextToken: it is not one this query returned",
                "nextToken",
            )
        }
        Err(BadToken::Expired) => {
            bump(&s.counters.expired_tokens);
            return invalid_parameter(
                &s,
                "Invalid NextToken: the token has expired; start the listing again",
                "nextToken",
            );
        }
    };
    if page.broken {
        bump(&s.counters.broken_pages);
    }
    s.counters
        .jobs_returned
        .fetch_add(page.jobs.len() as u64, Ordering::Relaxed);

    let malformed = faults.malformed.filter(|_| {
        faults.malformed_regions.is_empty() || faults.malformed_regions.contains(&caller.region)
    });
    if malformed.is_some() {
        bump(&s.counters.malformed);
    }
    match malformed {
        None => json(
            StatusCode::OK,
            list_body(
                &page.jobs,
                page.next_token.as_deref(),
                WireOptions {
                    spaced: faults.spaced_json,
                    ..WireOptions::default()
                },
            ),
        ),
        Some(Malformed::Truncated) => {
            let mut body = list_body(
                &page.jobs,
                page.next_token.as_deref(),
                WireOptions::default(),
            );
            body.truncate(body.len() / 2);
            json(StatusCode::OK, body)
        }
        Some(Malformed::WrongType) => json(
            StatusCode::OK,
            list_body(
                &page.jobs,
                page.next_token.as_deref(),
                WireOptions {
                    size_as_string: true,
                    ..WireOptions::default()
                },
            ),
        ),
        Some(Malformed::Html) => (
            StatusCode::BAD_GATEWAY,
            [(header::CONTENT_TYPE, "text/html")],
            PROXY_PAGE,
        )
            .into_response(),
    }
}

async fn describe_copy_job(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let caller = s.caller(&headers);
    bump(&s.counters.describe);
    s.count_region(&caller.region, true);
    if let Err(response) = gate(&s, &caller, "backup:DescribeCopyJob").await {
        return response;
    }
    let found = s
        .catalog
        .get(&caller.account, &caller.region)
        .and_then(|t| t.find(&id, s.view()));
    match found {
        Some(job) => {
            bump(&s.counters.jobs_returned);
            json(StatusCode::OK, describe_body(&job))
        }
        None => {
            bump(&s.counters.not_found);
            aws_error(
                StatusCode::NOT_FOUND,
                "ResourceNotFoundException",
                serde_json::json!({
                    "Code": "ResourceNotFoundException",
                    "Message": format!("Copy job {id} not found"),
                    "Context": id,
                    "Type": "User",
                }),
            )
        }
    }
}

fn xml(reply: sts::StsReply) -> Response {
    (
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::BAD_REQUEST),
        [(header::CONTENT_TYPE, "text/xml")],
        reply.body,
    )
        .into_response()
}

/// `POST /` serves two protocols: Organizations (JSON 1.1, named by the
/// `X-Amz-Target` header) and STS (query protocol, named by `Action`).
async fn post_root(
    state: State<Arc<Shared>>,
    request_id: Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let faults = state.faults();
    if !faults.sts_latency.is_zero() {
        tokio::time::sleep(faults.sts_latency).await;
    }
    if faults.backup_only {
        // A Backup endpoint knows neither protocol: the request is for
        // another service, so it is refused as an unknown operation.
        bump(&state.counters.refused_off_service);
        bump(&state.counters.bad_requests);
        let what = match &target {
            Some(t) => format!("X-Amz-Target {t}"),
            None => "STS (Action=...)".to_owned(),
        };
        return aws_error(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            serde_json::json!({
                "Code": "UnknownOperationException",
                "Message": format!(
                    "This endpoint serves AWS Backup only; {what} requests belong to another service's endpoint"
                ),
            }),
        );
    }
    match target {
        Some(target) => organizations_call(state, &target, headers, body),
        None => sts_call(state, request_id, headers, body).await,
    }
}

fn organizations_call(
    State(s): State<Arc<Shared>>,
    target: &str,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    bump(&s.counters.organizations);
    let caller = s.caller(&headers);
    let reply = match target.strip_prefix(organizations::TARGET_PREFIX) {
        Some(operation) => organizations::call(&s.directory, operation, &caller.account, &body),
        None => organizations::error(
            400,
            "UnknownOperationException",
            &format!("The emulator serves no service named by X-Amz-Target {target}"),
        ),
    };
    if reply.denied {
        bump(&s.counters.denied);
    }
    (
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::BAD_REQUEST),
        [(header::CONTENT_TYPE, "application/x-amz-json-1.1")],
        reply.body,
    )
        .into_response()
}

async fn sts_call(
    State(s): State<Arc<Shared>>,
    Extension(RequestId(rid)): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    bump(&s.counters.sts);
    let params = parse_pairs(&String::from_utf8_lossy(&body), true);
    let action = params
        .iter()
        .find(|(k, _)| k == "Action")
        .map(|(_, v)| v.as_str());
    match action {
        Some("AssumeRole") => {
            bump(&s.counters.assume_role);
            let serial = s.request_serial.load(Ordering::Relaxed);
            let faults = s.faults();
            let caller = s.caller(&headers);
            let caller_arn = s.caller_arn(&caller);
            let trust = sts::Trust {
                deny_accounts: &faults.deny_assume_role_accounts,
                external_id: faults.external_id.as_deref(),
                caller_arn: &caller_arn,
            };
            if let Some(account) = sts::role_account(&params) {
                let mut by_account = s
                    .counters
                    .assume_role_by_account
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                *by_account.entry(account.to_owned()).or_default() += 1;
            }
            match sts::assume_role(&params, serial, &rid, &trust) {
                Ok((reply, issued)) => {
                    if let Ok(mut map) = s.issued.lock() {
                        map.insert(issued.access_key_id, issued.assumed_role_arn);
                    }
                    xml(reply)
                }
                Err(reply) => {
                    if reply.status == 403 {
                        bump(&s.counters.assume_role_denied);
                        bump(&s.counters.denied);
                    }
                    xml(reply)
                }
            }
        }
        Some("GetCallerIdentity") => {
            let caller = s.caller(&headers);
            let key = caller
                .key
                .clone()
                .unwrap_or_else(|| "AIDAEMULATOREXAMPLE".into());
            let arn = s
                .issued
                .lock()
                .ok()
                .and_then(|m| m.get(&key).cloned())
                .unwrap_or_else(|| {
                    if account_of_key(&key).is_some() {
                        format!(
                            "arn:aws:sts::{}:assumed-role/emulator/session",
                            caller.account
                        )
                    } else {
                        format!("arn:aws:iam::{}:user/emulator", caller.account)
                    }
                });
            xml(sts::caller_identity(&caller.account, &arn, &key, &rid))
        }
        Some(other) => xml(sts::error(
            400,
            "InvalidAction",
            &format!("Could not find operation {other} for version 2011-06-15"),
            &rid,
        )),
        None => xml(sts::error(
            400,
            "MissingAction",
            "Missing Action parameter",
            &rid,
        )),
    }
}

fn clock_body(now: Timestamp) -> Response {
    json(
        StatusCode::OK,
        serde_json::to_vec(&serde_json::json!({
            "now": now.to_string(),
            "epochMillis": now.as_millis(),
        }))
        .unwrap_or_default(),
    )
}

async fn clock(State(s): State<Arc<Shared>>) -> Response {
    bump(&s.counters.control);
    clock_body(s.now())
}

/// `POST /_emulator/clock?advance=2h` moves the clock forward.
async fn advance_clock(State(s): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    bump(&s.counters.control);
    let pairs = parse_pairs(query.as_deref().unwrap_or(""), false);
    let Some((_, text)) = pairs.iter().find(|(k, _)| k == "advance") else {
        return invalid_parameter(&s, "Missing advance, e.g. ?advance=2h", "advance");
    };
    match parse_duration(text) {
        Ok(by) => clock_body(s.advance(i64::try_from(by.as_millis()).unwrap_or(i64::MAX))),
        Err(message) => invalid_parameter(&s, &message, "advance"),
    }
}

async fn stats(State(s): State<Arc<Shared>>) -> Response {
    bump(&s.counters.control);
    json(
        StatusCode::OK,
        serde_json::to_vec(&s.stats()).unwrap_or_default(),
    )
}

async fn unknown_operation(State(s): State<Arc<Shared>>, req: Request) -> Response {
    bump(&s.counters.bad_requests);
    aws_error(
        StatusCode::NOT_FOUND,
        "UnknownOperationException",
        serde_json::json!({
            "Code": "UnknownOperationException",
            "Message": format!(
                "The emulator serves GET /copy-jobs/ and GET /copy-jobs/{{copyJobId}}, not {} {}",
                req.method(),
                req.uri().path()
            ),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_are_imf_fixdates() {
        let t = Timestamp::parse_rfc3339("1994-11-06T08:49:37.250Z").unwrap();
        assert_eq!(http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
        let t = Timestamp::parse_rfc3339("2026-03-01T00:00:00Z").unwrap();
        assert_eq!(http_date(t), "Sun, 01 Mar 2026 00:00:00 GMT");
    }

    #[test]
    fn faults_are_spread_evenly() {
        let hits: Vec<bool> = (0..10).map(|n| nth_is_hit(n, 0.5)).collect();
        assert_eq!(
            hits,
            [false, true, false, true, false, true, false, true, false, true]
        );
        assert_eq!((0..1000).filter(|&n| nth_is_hit(n, 0.1)).count(), 100);
        assert_eq!((0..1000).filter(|&n| nth_is_hit(n, 0.0)).count(), 0);
        assert_eq!((0..1000).filter(|&n| nth_is_hit(n, 1.0)).count(), 1000);
        // Never two hits in a row below one half.
        assert!((0..1000).all(|n| !(nth_is_hit(n, 0.3) && nth_is_hit(n + 1, 0.3))));
    }

    #[test]
    fn mixed_faults_split_by_rate() {
        let shared = Shared::new(
            Catalog::default(),
            "123456789012".into(),
            "us-east-1".into(),
            Timestamp::UNIX_EPOCH,
            Faults {
                throttle_rate: 0.25,
                error_rate: 0.25,
                ..Faults::default()
            },
            1,
        );
        let faults = shared.faults();
        let dealt: Vec<_> = (0..1000).map(|_| shared.next_fault(&faults)).collect();
        let count = |f| dealt.iter().filter(|d| **d == Some(f)).count();
        assert_eq!(count(Fault::Throttle), 250);
        assert_eq!(count(Fault::Unavailable), 250);
        let ids: std::collections::HashSet<_> = (0..1000).map(|_| shared.request_id()).collect();
        assert_eq!(ids.len(), 1000);
    }
}

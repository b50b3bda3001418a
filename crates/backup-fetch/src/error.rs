//! Errors of AWS calls, classified for people and for exit codes.

use std::fmt;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_types::request_id::RequestId;

/// What kind of failure an AWS call ended in.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FetchErrorKind {
    /// The copy job does not exist (or is older than AWS keeps).
    NotFound {
        /// The job asked for.
        job_id: String,
    },
    /// The caller lacks a permission.
    AccessDenied {
        /// The IAM action that was refused, e.g. `backup:ListCopyJobs`.
        action: String,
    },
    /// Still throttled after every retry.
    Throttled,
    /// AWS rejected a parameter; the message is AWS's own.
    InvalidParameter,
    /// AWS answered 5xx after every retry.
    Unavailable,
    /// No answer within the configured timeouts.
    Timeout,
    /// The endpoint could not be reached.
    Connect,
    /// The response could not be read: truncated, wrongly typed, or not JSON.
    MalformedResponse,
    /// No credentials could be found or a role could not be assumed.
    Credentials,
    /// Anything else.
    Other,
}

/// A failed AWS call: what failed, AWS's error code and message, and the
/// request id to quote to AWS support.
#[derive(Debug, Clone)]
pub struct FetchError {
    /// The classification.
    pub kind: FetchErrorKind,
    /// The operation, e.g. `ListCopyJobs`.
    pub operation: &'static str,
    /// AWS's error code, e.g. `ThrottlingException`.
    pub code: Option<String>,
    /// AWS's message, or a description of the transport failure.
    pub message: String,
    /// The `x-amzn-RequestId` of the failed response, when there was one.
    pub request_id: Option<String>,
}

impl FetchError {
    /// An error that did not come from an AWS response.
    pub fn other(
        operation: &'static str,
        kind: FetchErrorKind,
        message: impl Into<String>,
    ) -> Self {
        FetchError {
            kind,
            operation,
            code: None,
            message: message.into(),
            request_id: None,
        }
    }

    /// The error code to print: AWS's when there is one, else the kind.
    pub fn code_or_kind(&self) -> String {
        self.code.clone().unwrap_or_else(|| {
            match &self.kind {
                FetchErrorKind::NotFound { .. } => "NotFound",
                FetchErrorKind::AccessDenied { .. } => "AccessDenied",
                FetchErrorKind::Throttled => "Throttled",
                FetchErrorKind::InvalidParameter => "InvalidParameter",
                FetchErrorKind::Unavailable => "Unavailable",
                FetchErrorKind::Timeout => "Timeout",
                FetchErrorKind::Connect => "ConnectError",
                FetchErrorKind::MalformedResponse => "MalformedResponse",
                FetchErrorKind::Credentials => "CredentialsError",
                FetchErrorKind::Other => "Error",
            }
            .to_owned()
        })
    }

    /// Classifies an SDK error of `operation`; `job_id` names the job of a
    /// DescribeCopyJob call.
    pub(crate) fn from_sdk<E>(
        operation: &'static str,
        job_id: Option<&str>,
        error: &SdkError<E, Response>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let request_id = error.request_id().map(str::to_owned);
        let action = format!("backup:{operation}");
        let (kind, code, message) = match error {
            SdkError::ServiceError(service) => {
                let code = service.err().code().map(str::to_owned);
                let message = service
                    .err()
                    .message()
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("HTTP {}", service.raw().status().as_u16()));
                let status = service.raw().status().as_u16();
                let is_html = service
                    .raw()
                    .headers()
                    .get("content-type")
                    .is_some_and(|ct| ct.contains("html"));
                let kind = match code.as_deref() {
                    Some("ResourceNotFoundException") => FetchErrorKind::NotFound {
                        job_id: job_id.unwrap_or_default().to_owned(),
                    },
                    Some(
                        "AccessDeniedException"
                        | "AccessDenied"
                        | "UnauthorizedOperation"
                        | "AuthorizationError",
                    ) => FetchErrorKind::AccessDenied { action },
                    Some(
                        "UnrecognizedClientException"
                        | "InvalidClientTokenId"
                        | "ExpiredTokenException"
                        | "ExpiredToken"
                        | "InvalidSignatureException"
                        | "SignatureDoesNotMatch"
                        | "MissingAuthenticationTokenException",
                    ) => FetchErrorKind::Credentials,
                    Some(
                        "ThrottlingException"
                        | "Throttling"
                        | "TooManyRequestsException"
                        | "RequestLimitExceeded",
                    ) => FetchErrorKind::Throttled,
                    Some(
                        "InvalidParameterValueException"
                        | "MissingParameterValueException"
                        | "ValidationException"
                        | "InvalidRequestException"
                        | "InvalidInputException",
                    ) => FetchErrorKind::InvalidParameter,
                    Some("ServiceUnavailableException") => FetchErrorKind::Unavailable,
                    // A success status whose body the SDK could not read.
                    _ if is_html || (200..300).contains(&status) => {
                        FetchErrorKind::MalformedResponse
                    }
                    _ if status == 429 => FetchErrorKind::Throttled,
                    _ if status >= 500 => FetchErrorKind::Unavailable,
                    _ if status == 403 => FetchErrorKind::AccessDenied { action },
                    _ => FetchErrorKind::Other,
                };
                let message = if is_html {
                    format!("HTTP {status} with an HTML page instead of JSON (a proxy or load balancer answered?)")
                } else {
                    message
                };
                (kind, code, message)
            }
            SdkError::TimeoutError(_) => (
                FetchErrorKind::Timeout,
                None,
                "no answer within the operation timeout".to_owned(),
            ),
            SdkError::DispatchFailure(failure) => {
                let text = DisplayErrorContext(error).to_string();
                let kind = if failure.is_timeout() {
                    FetchErrorKind::Timeout
                } else if text.contains("credentials") || text.contains("identity") {
                    FetchErrorKind::Credentials
                } else if failure.is_io() {
                    FetchErrorKind::Connect
                } else {
                    FetchErrorKind::Other
                };
                (kind, None, text)
            }
            SdkError::ResponseError(_) => (
                FetchErrorKind::MalformedResponse,
                None,
                DisplayErrorContext(error).to_string(),
            ),
            _ => {
                let text = DisplayErrorContext(error).to_string();
                let kind = if text.contains("credentials") || text.contains("identity") {
                    FetchErrorKind::Credentials
                } else {
                    FetchErrorKind::Other
                };
                (kind, None, text)
            }
        };
        FetchError {
            kind,
            operation,
            code,
            message,
            request_id,
        }
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            FetchErrorKind::NotFound { job_id } => write!(f, "copy job {job_id} not found")?,
            FetchErrorKind::AccessDenied { action } => {
                write!(f, "access denied to {action}: {}", self.message)?
            }
            FetchErrorKind::Throttled => write!(
                f,
                "{} still throttled after all retries: {}",
                self.operation, self.message
            )?,
            FetchErrorKind::InvalidParameter => write!(
                f,
                "{} rejected a parameter: {}",
                self.operation, self.message
            )?,
            FetchErrorKind::Unavailable => write!(
                f,
                "{} failed: service unavailable after all retries: {}",
                self.operation, self.message
            )?,
            FetchErrorKind::Timeout => write!(f, "{} timed out: {}", self.operation, self.message)?,
            FetchErrorKind::Connect => write!(
                f,
                "{} could not reach the endpoint: {}",
                self.operation, self.message
            )?,
            FetchErrorKind::MalformedResponse => write!(
                f,
                "{} returned a response that cannot be read: {}",
                self.operation, self.message
            )?,
            FetchErrorKind::Credentials => write!(
                f,
                "{}: credentials problem: {}",
                self.operation, self.message
            )?,
            FetchErrorKind::Other => write!(f, "{} failed: {}", self.operation, self.message)?,
        }
        match (&self.code, &self.request_id) {
            (Some(code), Some(id)) => write!(f, " ({code}, request id {id})"),
            (Some(code), None) => write!(f, " ({code})"),
            (None, Some(id)) => write!(f, " (request id {id})"),
            (None, None) => Ok(()),
        }
    }
}

impl std::error::Error for FetchError {}

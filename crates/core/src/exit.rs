//! The exit-code contract, decided in one place.
//!
//! 0 pass or warn, 1 the gate refused, 2 invalid input or configuration,
//! 3 an external service could not be reached after retries. A broken pipe on
//! stdout (`freeze-check | head`) is not a failure.

use std::process::ExitCode;

use crate::github::ApiError;
use crate::report::Verdict;

/// Exit code when the gate passed or passed with warnings.
pub const PASS: u8 = 0;
/// Exit code when the gate refused the release.
pub const REFUSED: u8 = 1;
/// Exit code for invalid input or configuration.
pub const INVALID: u8 = 2;
/// Exit code when an external service could not be reached after retries.
pub const UNREACHABLE: u8 = 3;

/// An external service (other than GitHub, whose client has its own error
/// type) stayed unreachable after retries: exit 3.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unreachable(pub String);

/// Maps a verdict to its exit code.
pub fn for_verdict(verdict: Verdict) -> u8 {
    match verdict {
        Verdict::Pass | Verdict::Warn => PASS,
        Verdict::Fail => REFUSED,
    }
}

/// Maps an error chain to its exit code: 3 when any cause is a service that
/// stayed unreachable, 0 for a broken pipe, 2 for everything else.
pub fn for_error(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(api) = cause.downcast_ref::<ApiError>()
            && api.is_unreachable()
        {
            return UNREACHABLE;
        }
        if cause.downcast_ref::<Unreachable>().is_some() {
            return UNREACHABLE;
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::BrokenPipe
        {
            return PASS;
        }
    }
    INVALID
}

/// The edge every gate binary shares: prints the error chain once to stderr
/// and turns the outcome into the documented exit code.
pub fn finish(result: anyhow::Result<Verdict>) -> ExitCode {
    match result {
        Ok(verdict) => ExitCode::from(for_verdict(verdict)),
        Err(err) => {
            let code = for_error(&err);
            if code != PASS {
                eprintln!("error: {}", crate::mask::redact(&crate::error::describe(err.as_ref())));
            }
            ExitCode::from(code)
        }
    }
}

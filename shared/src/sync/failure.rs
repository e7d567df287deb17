//! Why a sync cannot run or did not finish: one vocabulary of stable codes and seller-facing
//! messages, used by the api (refusing `POST /sync`) and the worker (recording a run) alike.

use stock_tracker_wb::WbError;

/// A failure recorded on a run, or told to the caller who asked for one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub code: &'static str,
    pub message: String,
}

impl Failure {
    fn new(code: &'static str, message: &str) -> Self {
        Self {
            code,
            message: message.to_string(),
        }
    }

    pub fn credential_required() -> Self {
        Self::new(
            "credential_required",
            "No WB token is connected; add one with PUT /api/v1/wb/credentials.",
        )
    }

    pub fn credential_invalid() -> Self {
        Self::new(
            "credential_invalid",
            "Wildberries rejected the stored token; replace it to sync again.",
        )
    }

    pub fn credential_undecryptable() -> Self {
        Self::new(
            "credential_undecryptable",
            "The stored token cannot be read; connect it again.",
        )
    }

    pub fn subscription_inactive() -> Self {
        Self::new(
            "subscription_inactive",
            "The subscription has ended or is unpaid; syncing resumes once it is active again.",
        )
    }

    /// The run was given up after `attempts`; `last` is how the last attempt ended.
    pub fn dead_lettered(attempts: i32, last: &str) -> Self {
        Self {
            code: "dead_lettered",
            message: format!("Gave up after {attempts} attempts; the last one ended with: {last}"),
        }
    }

    pub fn wb(e: &WbError) -> Self {
        Self::new(e.code(), e.human())
    }
}

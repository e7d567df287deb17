//! Why a sync cannot run or did not finish: one vocabulary of stable codes and seller-facing
//! messages, used by the api (refusing `POST /sync`) and the worker (recording a run) alike.

use stock_tracker_wb::WbError;

/// A failure recorded on a run, or told to the caller who asked for one. Made only by the
/// constructors below, so a run's `error_message` (which tenants read) is always our own
/// wording, never an error's text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    code: &'static str,
    message: String,
}

impl Failure {
    /// The stable code (`wb_unavailable`, `attempt_failed`, ...).
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The seller-facing message.
    pub fn message(&self) -> &str {
        &self.message
    }

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

    /// An attempt broke off on our side (PostgreSQL, a bug, a crash); the job is retried.
    /// What went wrong is for the log, never for the run: the seller sees only this.
    pub fn attempt_failed() -> Self {
        Self::new(
            "attempt_failed",
            "The sync failed on our side; it will be retried.",
        )
    }

    /// The run was given up after `attempts`. `last_code` is the code the last recorded
    /// attempt left on the run (`None` when none did, as when its worker was killed); only
    /// our own wording of it is repeated, never text stored with it.
    pub fn dead_lettered(attempts: i32, last_code: Option<&str>) -> Self {
        let last = match last_code {
            None => "the worker stopped during the attempt",
            Some(_) => "an error on our side",
        };
        Self {
            code: "dead_lettered",
            message: format!("Gave up after {attempts} attempts; the last one ended with: {last}."),
        }
    }

    /// A WB error in its seller-facing words; an answer missing a field we need names the
    /// field (a path of our own field names, see [`WbError::BadField`]).
    pub fn wb(e: &WbError) -> Self {
        Self::new(e.code(), &e.human_detailed())
    }
}

//! What can go wrong talking to Wildberries, with stable codes for the API and the sync log.
//!
//! No variant carries request headers, so the token cannot end up in an error message.

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WbError {
    #[error("Wildberries rejected the token (401)")]
    Unauthorized,
    #[error("Wildberries denied access (403)")]
    Forbidden,
    /// 401 that WB attributes to our service secret, not to the seller's token (see
    /// `client.rs` for the rule). The seller's token stays valid.
    #[error("Wildberries refused our service secret (401)")]
    SecretRejected,
    /// 402: our balance as a catalog service is empty (not the seller's fault).
    #[error("Wildberries wants payment for the service (402)")]
    ServiceUnpaid,
    #[error("Wildberries rejected the request (status {status})")]
    Rejected { status: u16 },
    #[error("Wildberries kept answering 429 Too Many Requests")]
    RateLimited,
    #[error("Wildberries is unavailable (status {status})")]
    Unavailable { status: u16 },
    #[error("Wildberries did not answer in time")]
    Timeout,
    #[error("unexpected response from Wildberries: {0}")]
    BadResponse(String),
    /// A 2xx answer that is well-formed JSON but lacks a field we need or has it with another
    /// type. `field` is the path in the answer (`cards[3].sizes[0].chrtID`): our own field
    /// names and indices, never WB's values.
    #[error("unexpected response from Wildberries: {method}: `{field}` {problem}")]
    BadField {
        method: &'static str,
        field: String,
        problem: String,
    },
    #[error("could not reach Wildberries: {0}")]
    Transport(String),
}

impl WbError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized => "wb_unauthorized",
            Self::Forbidden => "wb_forbidden",
            Self::SecretRejected => "wb_secret_rejected",
            Self::ServiceUnpaid => "wb_service_unpaid",
            Self::Rejected { .. } => "wb_rejected",
            Self::RateLimited => "wb_rate_limited",
            Self::Unavailable { .. } => "wb_unavailable",
            Self::Timeout => "wb_timeout",
            Self::BadResponse(_) | Self::BadField { .. } => "wb_bad_response",
            Self::Transport(_) => "wb_transport",
        }
    }

    /// A short message a seller can act on.
    pub fn human(&self) -> &'static str {
        match self {
            Self::Unauthorized => {
                "Wildberries did not accept the API token: it may be expired, revoked, or lack \
                 the needed categories. Create a new token and save it again."
            }
            Self::Forbidden => {
                "Wildberries denied access with this token. A base token cannot use some \
                 methods; a personal or service token can."
            }
            Self::SecretRejected | Self::ServiceUnpaid => {
                "Syncing is paused on our side; nothing to do on yours."
            }
            Self::Rejected { .. } => {
                "Wildberries rejected the request. We will look into it; no action is needed \
                 from you."
            }
            Self::RateLimited => {
                "Wildberries is limiting requests for this account. The sync will try again \
                 later."
            }
            Self::Unavailable { .. } | Self::Transport(_) => {
                "Wildberries is not available right now. The sync will try again later."
            }
            Self::Timeout => "Wildberries did not answer in time. The sync will try again later.",
            Self::BadResponse(_) | Self::BadField { .. } => {
                "Wildberries sent data we could not read. We will look into it; the sync will \
                 try again later."
            }
        }
    }

    /// [`WbError::human`], naming the field when WB's answer lacked one we need (the path
    /// is ours to show: see [`WbError::BadField`]).
    pub fn human_detailed(&self) -> String {
        match self {
            Self::BadField { method, field, .. } => format!(
                "Wildberries sent data we could not read: the field `{field}` of its {method} \
                 answer is missing or has an unexpected type. Nothing was saved from this \
                 sync. We will look into it; the sync will try again later."
            ),
            _ => self.human().to_string(),
        }
    }

    /// Whether running the same call later may succeed without the seller doing anything.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::RateLimited | Self::Unavailable { .. } | Self::Timeout | Self::Transport(_)
        )
    }

    /// Whether the seller has to fix the token.
    pub fn is_token_problem(&self) -> bool {
        matches!(self, Self::Unauthorized | Self::Forbidden)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        let all = [
            (WbError::Unauthorized, "wb_unauthorized"),
            (WbError::Forbidden, "wb_forbidden"),
            (WbError::SecretRejected, "wb_secret_rejected"),
            (WbError::ServiceUnpaid, "wb_service_unpaid"),
            (WbError::Rejected { status: 404 }, "wb_rejected"),
            (WbError::RateLimited, "wb_rate_limited"),
            (WbError::Unavailable { status: 502 }, "wb_unavailable"),
            (WbError::Timeout, "wb_timeout"),
            (WbError::BadResponse("x".into()), "wb_bad_response"),
            (
                WbError::BadField {
                    method: "cards_list",
                    field: "cards[3].sizes[0].chrtID".into(),
                    problem: "is missing".into(),
                },
                "wb_bad_response",
            ),
            (WbError::Transport("x".into()), "wb_transport"),
        ];
        for (e, code) in all {
            assert_eq!(e.code(), code);
            assert!(!e.human().is_empty());
            assert!(e.human_detailed().starts_with(&e.human()[..20]));
        }
        for ours in [WbError::SecretRejected, WbError::ServiceUnpaid] {
            assert!(!ours.is_token_problem() && !ours.is_transient());
        }
    }

    #[test]
    fn a_bad_field_is_named_for_the_seller() {
        let e = WbError::BadField {
            method: "cards_list",
            field: "cards[3].sizes[0].chrtID".into(),
            problem: "invalid type: string \"x\", expected i64".into(),
        };
        let text = e.human_detailed();
        assert!(text.contains("`cards[3].sizes[0].chrtID`"), "{text}");
        assert!(text.contains("cards_list"), "{text}");
        assert!(
            !text.contains("invalid type"),
            "WB's values stay in the log: {text}"
        );
        assert_eq!(
            WbError::Timeout.human_detailed(),
            WbError::Timeout.human(),
            "other errors read as before"
        );
    }
}

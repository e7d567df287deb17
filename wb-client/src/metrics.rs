//! Prometheus counters for WB calls. Labels are the method name and a small fixed set of
//! outcomes, so cardinality stays bounded whatever WB answers.

use crate::limits::Method;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SlotLabels {
    /// Position in `WB_CLIENT_SECRETS`: 0 the current secret, 1 the next one.
    slot: u8,
}

/// Cheap to clone; clones count into the same series.
#[derive(Clone, Debug, Default)]
pub struct WbMetrics {
    requests: Family<RequestLabels, Counter>,
    rate_limited: Family<MethodLabels, Counter>,
    secret_rejected: Family<SlotLabels, Counter>,
    payment_required: Counter,
}

/// How one attempt ended, as the `outcome` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Status(u16),
    Timeout,
    Transport,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Status(429) => "429",
            Outcome::Status(s) if s < 200 => "1xx",
            Outcome::Status(s) if s < 300 => "2xx",
            Outcome::Status(s) if s < 400 => "3xx",
            Outcome::Status(s) if s < 500 => "4xx",
            Outcome::Status(_) => "5xx",
            Outcome::Timeout => "timeout",
            Outcome::Transport => "transport",
        }
    }
}

impl WbMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "wb_requests",
            "Requests sent to the Wildberries API, by method and outcome (status class, 429, timeout, transport)",
            metrics.requests.clone(),
        );
        registry.register(
            "wb_rate_limited",
            "429 answers from the Wildberries API, by method",
            metrics.rate_limited.clone(),
        );
        registry.register(
            "wb_client_secret_rejected",
            "401 answers Wildberries attributed to our service secret (X-Client-Secret), by its position in WB_CLIENT_SECRETS",
            metrics.secret_rejected.clone(),
        );
        // Both slots (the current secret and the next) from the start: an alert's rate()
        // needs the series before its first increase, and the family is exported at once.
        for slot in 0..2 {
            drop(metrics.secret_rejected.get_or_create(&SlotLabels { slot }));
        }
        registry.register(
            "wb_payment_required",
            "402 answers: Wildberries wants our service balance topped up",
            metrics.payment_required.clone(),
        );
        metrics
    }

    pub(crate) fn secret_rejected(&self, slot: usize) {
        self.secret_rejected
            .get_or_create(&SlotLabels {
                slot: u8::try_from(slot).unwrap_or(u8::MAX),
            })
            .inc();
    }

    pub(crate) fn payment_required(&self) {
        self.payment_required.inc();
    }

    pub(crate) fn record(&self, method: Method, outcome: Outcome) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.name(),
                outcome: outcome.label(),
            })
            .inc();
        if outcome == Outcome::Status(429) {
            self.rate_limited
                .get_or_create(&MethodLabels {
                    method: method.name(),
                })
                .inc();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_method_and_outcome() {
        let mut registry = Registry::default();
        let metrics = WbMetrics::register(&mut registry);
        metrics.record(Method::CardsList, Outcome::Status(200));
        metrics.record(Method::CardsList, Outcome::Status(429));
        metrics.record(Method::SellerStocks, Outcome::Timeout);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(
            text.contains(r#"wb_requests_total{method="cards_list",outcome="2xx"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"wb_requests_total{method="cards_list",outcome="429"} 1"#));
        assert!(text.contains(r#"wb_rate_limited_total{method="cards_list"} 1"#));
        assert!(text.contains(r#"wb_requests_total{method="seller_stocks",outcome="timeout"} 1"#));
        metrics.secret_rejected(1);
        metrics.payment_required();
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(
            text.contains(r#"wb_client_secret_rejected_total{slot="1"} 1"#),
            "{text}"
        );
        assert!(text.contains("wb_payment_required_total 1"), "{text}");
    }
}

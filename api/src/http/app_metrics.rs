//! Metrics of what the api does besides serving requests: cached reads and Stripe's
//! webhooks.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    result: &'static str,
    /// Where a hit came from: `process` (this api's own layer) or `redis`; `none` for a miss.
    layer: &'static str,
}

/// Where a cached read was answered from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheLayer {
    Process,
    Redis,
    /// Neither: computed from PostgreSQL.
    Miss,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WebhookLabels {
    r#type: String,
    outcome: &'static str,
}

pub struct AppMetrics {
    cache_lookups: Family<CacheLabels, Counter>,
    stripe_webhook_events: Family<WebhookLabels, Counter>,
}

impl AppMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self {
            cache_lookups: Family::default(),
            stripe_webhook_events: Family::default(),
        };
        registry.register(
            "cache_lookups",
            "Cached tenant reads by result (hit, miss) and the layer that answered (process, redis, none)",
            m.cache_lookups.clone(),
        );
        registry.register(
            "stripe_webhook_events",
            "Stripe webhook deliveries by event type and outcome (processed, duplicate, ignored, rejected, failed)",
            m.stripe_webhook_events.clone(),
        );
        m
    }

    pub fn cache_lookup(&self, layer: CacheLayer) {
        let (result, layer) = match layer {
            CacheLayer::Process => ("hit", "process"),
            CacheLayer::Redis => ("hit", "redis"),
            CacheLayer::Miss => ("miss", "none"),
        };
        self.cache_lookups
            .get_or_create(&CacheLabels { result, layer })
            .inc();
    }

    /// `event_type` is one of the handled types or "other", so the label stays bounded.
    pub fn stripe_webhook(&self, event_type: &str, outcome: &'static str) {
        let r#type = if stock_tracker_shared::billing::webhook::HANDLED.contains(&event_type) {
            event_type.to_string()
        } else {
            "other".to_string()
        };
        self.stripe_webhook_events
            .get_or_create(&WebhookLabels { r#type, outcome })
            .inc();
    }
}

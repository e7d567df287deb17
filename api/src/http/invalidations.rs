//! Listens for cache invalidations on Redis and applies them to this process's layer
//! ([`super::process_cache`]). While the subscription is down the layer is dark: every
//! read goes to Redis (or PostgreSQL) as if the layer did not exist.

use super::process_cache::ProcessCache;
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use stock_tracker_shared::cache::Invalidation;

/// How long to wait before subscribing again after the subscription failed or dropped.
const RETRY: Duration = Duration::from_secs(1);

/// Keeps a subscription to `channel` for as long as the runtime lives. Outside a Tokio
/// runtime (a synchronous caller) nothing starts and the layer stays dark.
pub fn listen(client: redis::Client, channel: String, layer: Arc<ProcessCache>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        loop {
            match subscribe(&client, &channel).await {
                Ok(mut pubsub) => {
                    layer.go_live();
                    tracing::debug!(%channel, "cache invalidations subscribed; process cache live");
                    let mut messages = pubsub.on_message();
                    while let Some(msg) = messages.next().await {
                        match msg.get_payload::<String>().ok().as_deref().map(Invalidation::parse) {
                            Some(Some(inv)) => layer.invalidate(inv.tenant()),
                            // Unknown messages may come from a newer version: the safe
                            // reading is that anything may have changed.
                            _ => {
                                layer.go_dark();
                                layer.go_live();
                            }
                        }
                    }
                    layer.go_dark();
                    tracing::warn!(%channel, "cache invalidation subscription dropped; process cache dark until it is back");
                }
                Err(e) => {
                    layer.go_dark();
                    tracing::debug!(error = %e, "cannot subscribe to cache invalidations; process cache dark");
                }
            }
            tokio::time::sleep(RETRY).await;
        }
    });
}

async fn subscribe(
    client: &redis::Client,
    channel: &str,
) -> redis::RedisResult<redis::aio::PubSub> {
    let connect = async {
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(channel).await?;
        Ok(pubsub)
    };
    tokio::time::timeout(Duration::from_secs(2), connect)
        .await
        .unwrap_or_else(|_| {
            Err(redis::RedisError::from((
                redis::ErrorKind::Io,
                "subscribing timed out",
            )))
        })
}

//! `/api/v1/billing`: plans, the tenant's subscription and usage, Stripe Checkout and the
//! customer portal, plan changes, cancellation, and Stripe's webhook.

use crate::auth::{Auth, Manager};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::input::{JsonBody, QueryParams};
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use stock_tracker_shared::accounts::{tenants, users};
use stock_tracker_shared::billing::refresh;
use stock_tracker_shared::billing::subscriptions::SubscriptionStatus;
use stock_tracker_shared::billing::webhook::{self, Rejected};
use stock_tracker_shared::billing::{
    Access, Limits, Plan, TenantSubscription, subscriptions, usage,
};
use stock_tracker_shared::ids::TenantId;
use stock_tracker_shared::{kv, tenancy};
use stock_tracker_stripe::stripe::StripeApi;
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Serialize, ToSchema)]
pub struct PlanView {
    pub plan: Plan,
    /// Monthly price in US cents.
    pub price_cents: i64,
    pub currency: &'static str,
    pub limits: Limits,
}

#[utoipa::path(
    get, path = "/api/v1/billing/plans", tag = "billing",
    responses((status = 200, description = "The plans on sale", body = [PlanView]))
)]
pub async fn plans() -> Json<Vec<PlanView>> {
    Json(
        Plan::ALL
            .iter()
            .map(|&plan| PlanView {
                plan,
                price_cents: plan.price_cents(),
                currency: "usd",
                limits: plan.limits(),
            })
            .collect(),
    )
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionView {
    /// The plan whose limits apply now.
    pub plan: Plan,
    /// The plan billed from the next period (differs while a downgrade waits).
    pub billed_plan: Plan,
    /// Stripe's status.
    pub status: SubscriptionStatus,
    pub access: Access,
    pub limits: Limits,
    pub trial_ends_at: Option<DateTime<Utc>>,
    pub current_period_end: Option<DateTime<Utc>>,
    pub cancel_at_period_end: bool,
    /// While past due: when access turns read-only.
    pub grace_ends_at: Option<DateTime<Utc>>,
    /// When a scheduled downgrade takes effect.
    pub plan_changes_at: Option<DateTime<Utc>>,
    /// Whether the tenant pays through Stripe (else it is on the card-less trial).
    pub has_stripe_subscription: bool,
}

impl From<TenantSubscription> for SubscriptionView {
    fn from(s: TenantSubscription) -> Self {
        Self {
            limits: s.limits(),
            plan: s.plan,
            billed_plan: s.billed_plan,
            has_stripe_subscription: s.stripe_subscription_id.is_some(),
            grace_ends_at: s.grace_ends_at,
            status: s.status,
            access: s.access,
            trial_ends_at: s.trial_ends_at,
            current_period_end: s.current_period_end,
            cancel_at_period_end: s.cancel_at_period_end,
            plan_changes_at: s.downgrade_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SubscriptionQuery {
    /// Re-read the subscription from Stripe first (the page after Checkout uses this).
    /// Owners and admins only, at most once a minute per tenant.
    #[serde(default)]
    pub refresh: bool,
}

#[utoipa::path(
    get, path = "/api/v1/billing/subscription", tag = "billing",
    security(("bearer" = [])), params(SubscriptionQuery),
    responses(
        (status = 200, description = "The tenant's subscription and what it allows", body = SubscriptionView),
        (status = 403, description = "`refresh` asked by a member, a viewer or an API key (`forbidden`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`refresh` asked again within a minute: wait `Retry-After` seconds (`refresh_throttled`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`refresh` asked without Stripe configured (`billing_not_configured`), Stripe unreachable (`stripe_unavailable`) or the refresh limit unavailable (`refresh_unavailable`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn subscription(
    State(state): State<AppState>,
    auth: Auth,
    QueryParams(query): QueryParams<SubscriptionQuery>,
) -> ApiResult<Json<SubscriptionView>> {
    if query.refresh {
        if !auth.role.can_manage() {
            return Err(ApiError::forbidden(
                "Only owners and admins can re-read the subscription from Stripe.",
            ));
        }
        let stripe = stripe(&state)?;
        limit_refresh(&state, auth.tenant).await?;
        refresh::refresh(&state.db, auth.tenant, stripe, None).await?;
    }
    let mut tx = tenancy::begin(&state.db, auth.scope()).await?;
    let current = subscriptions::current(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(current.into()))
}

/// Each refresh costs Stripe calls (and its rate limit is shared by every tenant), so a
/// tenant gets one a minute, counted in Redis across replicas. Without Redis the limit
/// cannot be kept, so refreshing waits for it to come back; webhooks keep the stored
/// subscription current meanwhile.
async fn limit_refresh(state: &AppState, tenant: TenantId) -> ApiResult<()> {
    let key = format!(
        "{}stripe-refresh:{tenant}",
        state.config.common.redis_key_prefix
    );
    match kv::claim_once(&state.redis, &key, Duration::from_secs(60)).await {
        Ok(None) => Ok(()),
        Ok(Some(wait)) => {
            let wait = wait.as_secs().max(1);
            Err(ApiError::too_many_requests(
                "refresh_throttled",
                wait,
                format!(
                    "The subscription was re-read from Stripe less than a minute ago; try again in {wait} s."
                ),
            ))
        }
        Err(e) => {
            tracing::warn!(error = %e, "refresh limit unavailable (Redis)");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "refresh_unavailable",
                "The subscription cannot be re-read from Stripe right now; it is updated by \
                 Stripe's notifications meanwhile.",
            ))
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PlanRequest {
    pub plan: Plan,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HostedPage {
    /// Send the seller here.
    pub url: String,
}

#[utoipa::path(
    post, path = "/api/v1/billing/checkout-session", tag = "billing",
    security(("bearer" = [])), request_body = PlanRequest,
    responses(
        (status = 200, description = "Stripe Checkout page for the plan", body = HostedPage),
        (status = 403, description = "Only owners and admins manage billing", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A subscription already runs; change its plan instead (`subscription_exists`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown plan (`invalid_field` on `plan`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Stripe not configured (`billing_not_configured`) or unreachable (`stripe_unavailable`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn checkout_session(
    State(state): State<AppState>,
    manager: Manager,
    JsonBody(PlanRequest { plan }): JsonBody<PlanRequest>,
) -> ApiResult<Json<HostedPage>> {
    let stripe = stripe(&state)?;
    let mut tx = tenancy::begin(&state.db, manager.scope().with_user(manager.user)).await?;
    let current = subscriptions::current(&mut tx).await?;
    let email = users::by_id(&mut tx, manager.user)
        .await?
        .map(|u| u.email)
        .unwrap_or_default();
    let name = tenants::current(&mut tx)
        .await?
        .map(|t| t.name)
        .unwrap_or_default();
    tx.commit().await?;
    if current.has_live_stripe_subscription() {
        return Err(ApiError::conflict(
            "subscription_exists",
            "The tenant already has a subscription; use change-plan or the portal.",
        ));
    }
    let tenant = manager.tenant.to_string();
    let customer = match current.stripe_customer_id {
        Some(customer) => customer,
        None => {
            // Created outside any transaction; kept even if Checkout fails (reused next
            // time). Two racing requests link whichever customer was stored first.
            let created = stripe.create_customer(&tenant, &email, &name).await?;
            let mut tx = tenancy::begin(&state.db, manager.scope()).await?;
            let linked = subscriptions::set_customer(&mut tx, &created).await?;
            tx.commit().await?;
            linked
        }
    };
    let billing = &state.config.billing;
    let session = stripe
        .create_checkout_session(
            &tenant,
            &customer,
            plan,
            &billing.success_url,
            &billing.cancel_url,
        )
        .await?;
    hosted(session.url)
}

#[utoipa::path(
    post, path = "/api/v1/billing/portal-session", tag = "billing",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Stripe customer portal for the tenant", body = HostedPage),
        (status = 403, description = "Only owners and admins manage billing", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The tenant has never subscribed (`no_billing_customer`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Stripe not configured or unreachable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn portal_session(
    State(state): State<AppState>,
    manager: Manager,
) -> ApiResult<Json<HostedPage>> {
    let stripe = stripe(&state)?;
    let mut tx = tenancy::begin(&state.db, manager.scope()).await?;
    let current = subscriptions::current(&mut tx).await?;
    tx.commit().await?;
    let customer = current.stripe_customer_id.ok_or_else(|| {
        ApiError::conflict(
            "no_billing_customer",
            "The tenant has not subscribed yet; start with checkout-session.",
        )
    })?;
    let session = stripe
        .create_portal_session(&customer, &state.config.billing.portal_return_url)
        .await?;
    hosted(session.url)
}

#[utoipa::path(
    post, path = "/api/v1/billing/change-plan", tag = "billing",
    security(("bearer" = [])), request_body = PlanRequest,
    responses(
        (status = 200, description = "Upgrades apply now (prorated); downgrades at the end of the paid period", body = SubscriptionView),
        (status = 403, description = "Only owners and admins manage billing", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No running subscription (`no_subscription`) or already on that plan (`same_plan`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown plan (`invalid_field` on `plan`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Stripe not configured or unreachable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn change_plan(
    State(state): State<AppState>,
    manager: Manager,
    JsonBody(PlanRequest { plan }): JsonBody<PlanRequest>,
) -> ApiResult<Json<SubscriptionView>> {
    let stripe = stripe(&state)?;
    let before = live_subscription(&state, &manager).await?;
    if plan == before.billed_plan {
        return Err(ApiError::conflict(
            "same_plan",
            format!("The tenant is on {plan} already."),
        ));
    }
    let upgrade = plan > before.billed_plan;
    // A downgrade keeps the paid plan's limits until the period ends. Recorded before Stripe
    // is asked, so that a request cut off after Stripe answered (or Stripe's webhook
    // arriving first) cannot apply the lower plan at once; if Stripe refuses, the record is
    // harmless (the plan it protects is the plan in force) and the next write clears it.
    if !upgrade && let Some(at) = before.current_period_end {
        let mut tx = tenancy::begin(&state.db, manager.scope()).await?;
        subscriptions::schedule_downgrade(&mut tx, before.plan, at).await?;
        tx.commit().await?;
    }
    let id = before.stripe_subscription_id.clone().unwrap_or_default();
    let changed = match stripe.subscription(&id).await {
        Ok(sub) => stripe.change_price(&sub, plan, upgrade).await,
        Err(e) => Err(e),
    };
    let changed = match changed {
        Ok(changed) => changed,
        Err(e) => {
            if !upgrade {
                // The plan did not change at Stripe: no downgrade is pending after all
                // (only while the row still bills the plan it protected).
                let mut tx = tenancy::begin(&state.db, manager.scope()).await?;
                subscriptions::cancel_downgrade(&mut tx, before.plan).await?;
                tx.commit().await?;
            }
            return Err(e.into());
        }
    };
    let mut tx = tenancy::begin(&state.db, manager.scope()).await?;
    let locked = subscriptions::lock(&mut tx).await?;
    subscriptions::apply(&mut tx, &locked, &changed, Some(plan), None).await?;
    let after = subscriptions::current(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(after.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CancelRequest {
    /// True: keep the plan until the paid period ends. False: end it now.
    pub at_period_end: bool,
}

#[utoipa::path(
    post, path = "/api/v1/billing/cancel", tag = "billing",
    security(("bearer" = [])), request_body = CancelRequest,
    responses(
        (status = 200, description = "The subscription after cancelling", body = SubscriptionView),
        (status = 403, description = "Only owners and admins manage billing", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No running subscription (`no_subscription`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Stripe not configured or unreachable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn cancel(
    State(state): State<AppState>,
    manager: Manager,
    JsonBody(body): JsonBody<CancelRequest>,
) -> ApiResult<Json<SubscriptionView>> {
    let stripe = stripe(&state)?;
    let before = live_subscription(&state, &manager).await?;
    let id = before.stripe_subscription_id.clone().unwrap_or_default();
    let sub = if body.at_period_end {
        stripe.set_cancel_at_period_end(&id, true).await?
    } else {
        stripe.cancel_now(&id).await?
    };
    let plan = sub
        .price_id()
        .and_then(|p| stripe.config().plan_for_price(p));
    let mut tx = tenancy::begin(&state.db, manager.scope()).await?;
    let locked = subscriptions::lock(&mut tx).await?;
    subscriptions::apply(&mut tx, &locked, &sub, plan, None).await?;
    let after = subscriptions::current(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(after.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Metered {
    pub used: i64,
    pub limit: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageView {
    pub plan: Plan,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    /// Calls made with API keys this period (the web app's own calls are not counted).
    pub api_calls: Metered,
    /// Products tracked now, against the plan's product limit.
    pub products: Metered,
    /// Syncs started by hand in the last 24 hours.
    pub manual_syncs_today: Metered,
    /// Syncs of any kind this period.
    pub syncs_this_period: i64,
}

#[utoipa::path(
    get, path = "/api/v1/billing/usage", tag = "billing",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Usage this billing period against the plan's limits", body = UsageView),
    )
)]
pub async fn usage(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<UsageView>> {
    let mut tx = tenancy::begin(&state.db, auth.scope()).await?;
    let sub = subscriptions::current(&mut tx).await?;
    let (start, end) = sub.period();
    let products = usage::products_tracked(&mut tx).await?;
    let (syncs, _) = usage::syncs_since(&mut tx, start).await?;
    let (_, manual) = usage::syncs_since(&mut tx, Utc::now() - chrono::Duration::days(1)).await?;
    tx.commit().await?;
    let api_calls = state
        .usage
        .used(&state.db, auth.tenant, start)
        .await
        .map_err(ApiError::internal)?;
    let limits = sub.limits();
    Ok(Json(UsageView {
        plan: sub.plan,
        period_start: start,
        period_end: end,
        api_calls: Metered {
            used: api_calls,
            limit: limits.api_calls_per_period,
        },
        products: Metered {
            used: products,
            limit: limits.products,
        },
        manual_syncs_today: Metered {
            used: manual,
            limit: limits.manual_syncs_per_day,
        },
        syncs_this_period: syncs,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookReceived {
    /// `processed`, `duplicate` (delivered before) or `ignored`.
    pub outcome: &'static str,
}

#[utoipa::path(
    post, path = "/api/v1/billing/webhook", tag = "billing",
    request_body(content = String, description = "Stripe's event, exactly as Stripe signed it", content_type = "application/json"),
    params(("Stripe-Signature" = String, Header, description = "t=<unix time>,v1=<HMAC-SHA256>")),
    responses(
        (status = 200, description = "Event taken (processed now, or before)", body = WebhookReceived),
        (status = 400, description = "Bad signature (`invalid_signature`), stale timestamp (`stale_signature`) or not an event (`invalid_payload`); nothing changed", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Stripe not configured (`billing_not_configured`) or unreachable while re-reading the subscription (`stripe_unavailable`): Stripe retries", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<WebhookReceived>> {
    let stripe = stripe(&state)?;
    let metrics = &state.app_metrics;
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let event = match webhook::verify(&body, signature, &stripe.config().webhook_secrets) {
        Ok(event) => event,
        Err(rejected) => {
            metrics.stripe_webhook("unverified", "rejected");
            tracing::warn!(reason = %rejected, "Stripe webhook rejected");
            let code = match rejected {
                Rejected::BadHeader | Rejected::BadSignature => "invalid_signature",
                Rejected::StaleTimestamp => "stale_signature",
                Rejected::BadPayload => "invalid_payload",
            };
            return Err(ApiError::bad_request(code, rejected.to_string()));
        }
    };
    match webhook::process(&state.db, stripe, &event).await {
        Ok(outcome) => {
            metrics.stripe_webhook(&event.kind, outcome.as_str());
            tracing::info!(event = %event.id, kind = %event.kind, outcome = outcome.as_str(), "Stripe webhook");
            Ok(Json(WebhookReceived {
                outcome: outcome.as_str(),
            }))
        }
        Err(e) => {
            metrics.stripe_webhook(&event.kind, "failed");
            tracing::warn!(event = %event.id, kind = %event.kind, error = %e, "Stripe webhook failed; Stripe will retry");
            Err(e.into())
        }
    }
}

fn stripe(state: &AppState) -> Result<&StripeApi, ApiError> {
    state.stripe.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "billing_not_configured",
            "Billing is not configured on this server (no Stripe settings).",
        )
    })
}

/// The tenant's subscription, read and committed, if it has one running at Stripe.
async fn live_subscription(state: &AppState, manager: &Manager) -> ApiResult<TenantSubscription> {
    let mut tx = tenancy::begin(&state.db, manager.scope()).await?;
    let current = subscriptions::current(&mut tx).await?;
    tx.commit().await?;
    if !current.has_live_stripe_subscription() {
        return Err(ApiError::conflict(
            "no_subscription",
            "The tenant has no running subscription; start one with checkout-session.",
        ));
    }
    Ok(current)
}

fn hosted(url: Option<String>) -> ApiResult<Json<HostedPage>> {
    url.map(|url| Json(HostedPage { url })).ok_or_else(|| {
        ApiError::internal(anyhow::anyhow!("Stripe returned a session without a URL"))
    })
}

//! The router: every route, its OpenAPI entry, and the layers all requests pass through.

use crate::error::ApiError;
use crate::http::{metrics, problems, quota, request_id};
use crate::openapi::ApiDoc;
use crate::routes::{
    api_keys, auth, billing, credentials, health, me, members, stock, sync, tenant,
};
use crate::state::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceBuilder;
use tower_governor::GovernorError;
use tower_governor::GovernorLayer;
use tower_governor::governor::GovernorConfigBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

pub fn router(state: AppState) -> Router {
    let (api, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(auth_routes(&state))
        .routes(routes!(me::me))
        .routes(routes!(tenant::get_tenant, tenant::update_tenant))
        .routes(routes!(members::list_members))
        .routes(routes!(members::remove_member))
        .routes(routes!(
            members::create_invitation,
            members::list_invitations
        ))
        .routes(routes!(members::revoke_invitation))
        .routes(routes!(
            credentials::put_credentials,
            credentials::get_credentials,
            credentials::delete_credentials
        ))
        .routes(routes!(sync::start_sync))
        .routes(routes!(sync::list_runs))
        .routes(routes!(sync::get_run))
        .routes(routes!(sync::status))
        .routes(routes!(stock::list_products))
        .routes(routes!(stock::get_product))
        .routes(routes!(stock::stock_history))
        .routes(routes!(stock::list_stocks))
        .routes(routes!(stock::list_warehouses))
        .routes(routes!(stock::list_sizes))
        .routes(routes!(billing::plans))
        .routes(routes!(billing::subscription))
        .routes(routes!(billing::checkout_session))
        .routes(routes!(billing::portal_session))
        .routes(routes!(billing::change_plan))
        .routes(routes!(billing::cancel))
        .routes(routes!(billing::usage))
        .routes(routes!(billing::webhook))
        .routes(routes!(api_keys::create, api_keys::list))
        .routes(routes!(api_keys::revoke))
        .routes(routes!(health::live))
        .routes(routes!(health::ready))
        .routes(routes!(health::metrics))
        .split_for_parts();
    crate::openapi::document_shared_problems(&mut openapi);

    api.merge(SwaggerUi::new("/docs").url("/openapi.json", openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(
            ServiceBuilder::new()
                .layer(axum::middleware::from_fn(request_id::middleware))
                .layer(CatchPanicLayer::custom(|_| {
                    ApiError::internal(anyhow::anyhow!("handler panicked")).into_response()
                }))
                .layer(axum::middleware::from_fn_with_state(
                    state.http_metrics.clone(),
                    metrics::middleware,
                ))
                .layer(axum::middleware::from_fn(
                    problems::every_error_is_a_problem,
                ))
                .layer(axum::middleware::from_fn_with_state(
                    state.config.request_timeout,
                    problems::request_timeout,
                ))
                .layer(DefaultBodyLimit::max(state.config.body_limit_bytes))
                .layer(axum::middleware::from_fn(quota::middleware)),
        )
        .with_state(state)
}

/// Auth routes get a per-address rate limit on top of the per-account login slowdown.
fn auth_routes(state: &AppState) -> OpenApiRouter<AppState> {
    let config = GovernorConfigBuilder::default()
        .key_extractor(state.client_ip.clone())
        .per_millisecond(
            u64::try_from(state.config.auth_rate_period.as_millis().max(1)).unwrap_or(u64::MAX),
        )
        .burst_size(state.config.auth_rate_burst)
        .finish()
        .expect("burst and period are validated as positive by the config");
    let limiter = config.limiter().clone();
    // Forget addresses that have been quiet, so the table does not grow without bound:
    // done by the requests themselves, at most once a minute, so no task outlives the app.
    let last_sweep = Arc::new(std::sync::Mutex::new(Instant::now()));
    let sweep = axum::middleware::from_fn(move |request: Request, next: Next| {
        let (limiter, last_sweep) = (limiter.clone(), last_sweep.clone());
        async move {
            let due = last_sweep.lock().ok().is_some_and(|mut at| {
                let due = at.elapsed() >= Duration::from_secs(60);
                if due {
                    *at = Instant::now();
                }
                due
            });
            if due {
                limiter.retain_recent();
            }
            next.run(request).await
        }
    });
    OpenApiRouter::new()
        .routes(routes!(auth::register))
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::accept_invitation))
        .layer(GovernorLayer::new(config).error_handler(rate_limited))
        .layer(sweep)
}

fn rate_limited(err: GovernorError) -> Response {
    match err {
        GovernorError::TooManyRequests { wait_time, .. } => ApiError::too_many_requests(
            "rate_limited",
            wait_time,
            format!("Too many requests from this address; retry in {wait_time} s."),
        ),
        other => ApiError::internal(anyhow::anyhow!("rate limiter: {other}")),
    }
    .into_response()
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "route_not_found", "No such route.")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "This route does not support this method.",
    )
}

/// Serves until `shutdown` resolves, then drains in-flight requests for at most `grace`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let grace = state.config.shutdown_grace;
    let usage = state.usage.clone();
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = stopping_tx.send(());
    });
    let deadline = async move {
        if stopping_rx.await.is_ok() {
            tokio::time::sleep(grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    let result = tokio::select! {
        result = server => result,
        () = deadline => {
            tracing::warn!(grace_secs = grace.as_secs(), "drain deadline passed; closing remaining connections");
            Ok(())
        }
    };
    // API calls counted during the last requests reach PostgreSQL before the process ends.
    usage.flush().await;
    result
}

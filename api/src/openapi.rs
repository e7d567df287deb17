//! The OpenAPI document's frame; paths and schemas come from the handlers themselves.

use crate::error::Problem;
use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Stock Tracker API",
        description = "Wildberries stock for sellers: tenants, team, stock and analytics. \
            Errors are RFC 9457 `application/problem+json` documents with a stable `code` \
            and, for validation errors, the `field` at fault.",
    ),
    components(schemas(Problem)),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Sign-up, sign-in and sessions"),
        (name = "tenant", description = "The seller's account and team"),
        (name = "wildberries", description = "The seller's WB API token"),
        (name = "sync", description = "Syncing from Wildberries"),
        (name = "stock", description = "Synced products, warehouses and stock"),
        (name = "operations", description = "Health and metrics"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT")
                        .build(),
                ),
            );
        }
    }
}

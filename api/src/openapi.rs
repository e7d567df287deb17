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
            and, for validation errors, the `field` at fault. Text inputs may not contain \
            the NUL character (U+0000): such a value answers 422 `invalid_text`.",
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

/// Statuses that conventions shared by every route can answer, added to each operation the
/// convention applies to (a handler documents only what is particular to it). One place,
/// so the document cannot drift from the extractors and layers that send them.
pub fn document_shared_problems(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::path::{Operation, ParameterIn};

    for item in doc.paths.paths.values_mut() {
        let ops: [&mut Option<Operation>; 5] = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for op in ops.into_iter().flatten() {
            let params = |place: ParameterIn| {
                op.parameters.iter().flatten().any(|p| match p {
                    RefOr::T(p) => p.parameter_in == place,
                    RefOr::Ref(_) => false,
                })
            };
            let mut add = Vec::new();
            if op.security.is_some() {
                add.push(("401", "No valid access token or API key (`unauthorized`)"));
                add.push((
                    "429",
                    "An API key's plan quota is used up (`quota_exceeded`, with `Retry-After`)",
                ));
            }
            // A JSON object body read by `JsonBody` (Stripe's webhook takes raw bytes instead).
            let json_body = op.request_body.as_ref().is_some_and(|body| match body {
                RefOr::T(body) => body
                    .content
                    .get("application/json")
                    .is_some_and(|c| match c {
                        RefOr::T(c) => matches!(c.schema, Some(RefOr::Ref(_))),
                        RefOr::Ref(_) => true,
                    }),
                RefOr::Ref(_) => true,
            });
            if json_body {
                add.push(("400", "The body is not valid JSON (`malformed_json`)"));
                add.push(("413", "The body is too large (`body_too_large`)"));
                add.push((
                    "415",
                    "The body is not `application/json` (`unsupported_media_type`)",
                ));
                add.push((
                    "422",
                    "A field is missing, mistyped or invalid (`field` names it)",
                ));
            }
            if params(ParameterIn::Query) {
                add.push((
                    "422",
                    "A query parameter does not parse (`invalid_query`, `field` names it)",
                ));
            }
            if params(ParameterIn::Path) {
                add.push((
                    "404",
                    "Nothing matches the path (`not_found`; a malformed id too)",
                ));
            }
            add.push((
                "503",
                "A dependency is unavailable or the request took too long (`database_unavailable`, `request_timeout`)",
            ));
            for (status, description) in add {
                op.responses
                    .responses
                    .entry(status.to_string())
                    .or_insert_with(|| problem_response(description));
            }
        }
    }
}

fn problem_response(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content(
            crate::error::PROBLEM_JSON,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
        .into()
}

#[cfg(test)]
mod tests {
    use crate::routes::{
        api_keys::CreateApiKeyRequest, auth::RegisterRequest, tenant::UpdateTenantRequest,
    };
    use stock_tracker_shared::accounts::inputs::NAME_PATTERN;
    use utoipa::PartialSchema;

    #[test]
    fn documented_name_patterns_are_the_rule_the_server_applies() {
        for (schema, property) in [
            (
                serde_json::to_value(RegisterRequest::schema()).unwrap(),
                "company_name",
            ),
            (
                serde_json::to_value(UpdateTenantRequest::schema()).unwrap(),
                "name",
            ),
            (
                serde_json::to_value(CreateApiKeyRequest::schema()).unwrap(),
                "name",
            ),
        ] {
            let documented = &schema["properties"][property];
            let pattern = documented["pattern"]
                .as_str()
                .or_else(|| documented["oneOf"][0]["pattern"].as_str());
            assert_eq!(pattern, Some(NAME_PATTERN), "{property}: {documented}");
        }
    }
}

//! /admin/realms/{realm}/client-scopes/{scope}/scope-mappings[/realm|/clients/{client}][/available|/composite]
//!
//! The roles a client scope lets into tokens (Keycloak's `ScopeMappedResource` and
//! `ScopeMappedClientResource` under `ClientScopeResource`). They are kept in the realm's
//! `scopeMappings` / `clientScopeMappings` entries that name the scope in `clientScope`, as a
//! Keycloak export has them; the generic handlers of [`super::role_mappings`] serve them.

use axum::Router;

use super::role_mappings::{self as rm, ScopeHolder, ScopeMapped, ScopeTarget};
use super::{AdminError, AdminResult};
use crate::http::paths;
use crate::representation::RealmRepresentation;
use crate::AppState;

/// The name of client scope `id` (404 `Could not find client scope`, as `ClientScopesResource`).
fn scope_name(rep: &RealmRepresentation, id: &str) -> AdminResult<String> {
    rep.client_scopes
        .iter()
        .flatten()
        .find(|s| s.id.as_deref() == Some(id))
        .and_then(|s| s.name.clone())
        .ok_or_else(|| AdminError::not_found("Could not find client scope"))
}

/// Client scopes as holders of scope mappings.
#[derive(Debug)]
pub struct ClientScopes;

impl ScopeHolder for ClientScopes {
    type View = super::auth::ViewClientScopes;
    type Manage = super::auth::ManageClientScopes;
    fn target(rep: &RealmRepresentation, id: &str) -> AdminResult<ScopeTarget> {
        scope_name(rep, id).map(ScopeTarget::Scope)
    }
}

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    rm::routes_of::<ScopeMapped<ClientScopes>>(rm::MappingPaths {
        all: paths::ADMIN_CLIENT_SCOPE_SCOPE_MAPPINGS,
        realm: paths::ADMIN_CLIENT_SCOPE_SCOPE_MAPPINGS_REALM,
        realm_composite: paths::ADMIN_CLIENT_SCOPE_SCOPE_MAPPINGS_REALM_COMPOSITE,
        realm_available: paths::ADMIN_CLIENT_SCOPE_SCOPE_MAPPINGS_REALM_AVAILABLE,
        client: paths::ADMIN_CLIENT_SCOPE_SCOPE_MAPPINGS_CLIENT,
        client_composite: paths::ADMIN_CLIENT_SCOPE_SCOPE_MAPPINGS_CLIENT_COMPOSITE,
        client_available: paths::ADMIN_CLIENT_SCOPE_SCOPE_MAPPINGS_CLIENT_AVAILABLE,
    })
}

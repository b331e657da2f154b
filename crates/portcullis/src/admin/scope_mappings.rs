//! /admin/realms/{realm}/client-scopes/{scope}/scope-mappings[/realm|/clients/{client}][/available|/composite]
//!
//! The roles a client scope lets into tokens (Keycloak's `ScopeMappedResource` and
//! `ScopeMappedClientResource` under `ClientScopeResource`). They are kept in the realm's
//! `scopeMappings` / `clientScopeMappings` entries that name the scope in `clientScope`, as a
//! Keycloak export has them; the generic handlers of [`super::role_mappings`] serve them.

use axum::Router;
use serde_json::Value;

use super::auth::{Caller, ManageClients, ViewClients};
use super::role_mappings::{self as rm, Holders, Mode, Op, ScopeMappings, ScopeTarget};
use super::{body, edit_realm, AdminError, AdminResult};
use crate::http::paths;
use crate::realm::snapshot::RealmSnapshot;
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
pub struct ClientScopeMapped;

impl Holders for ClientScopeMapped {
    type View = ViewClients;
    type Manage = ManageClients;

    async fn all(_: &AppState, snap: &RealmSnapshot, id: &str) -> AdminResult<Value> {
        let target = ScopeTarget::Scope(scope_name(&snap.rep, id)?);
        Ok(rm::all_json(
            snap,
            &ScopeMappings {
                rep: &snap.rep,
                target,
            },
        ))
    }

    async fn list(
        _: &AppState,
        snap: &RealmSnapshot,
        id: &str,
        owner: Option<&str>,
        mode: Mode,
        brief: bool,
    ) -> AdminResult<Vec<Value>> {
        let target = ScopeTarget::Scope(scope_name(&snap.rep, id)?);
        let container = rm::container(&snap.rep, owner, "Could not find client")?;
        let holder = ScopeMappings {
            rep: &snap.rep,
            target,
        };
        Ok(rm::listed_as(snap, &holder, &container, mode, brief))
    }

    async fn change(
        state: &AppState,
        snap: &RealmSnapshot,
        _: &Caller,
        id: &str,
        owner: Option<&str>,
        bytes: &[u8],
        op: Op,
    ) -> AdminResult<()> {
        let list: Vec<Value> = body(bytes)?;
        edit_realm(state, &snap.name, |rep, _| {
            let target = ScopeTarget::Scope(scope_name(rep, id)?);
            let container = rm::container(rep, owner, "Could not find client")?;
            let roles = rm::resolve(rep, &list, &container)?;
            rm::apply(&mut ScopeMappings { rep, target }, &roles, op);
            Ok(())
        })
        .await
    }
}

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    rm::routes_of::<ClientScopeMapped>(rm::MappingPaths {
        all: paths::ADMIN_CLIENT_SCOPE_SCOPE_MAPPINGS,
        realm: paths::ADMIN_CLIENT_SCOPE_SCOPE_MAPPINGS_REALM,
        realm_composite: paths::ADMIN_CLIENT_SCOPE_SCOPE_MAPPINGS_REALM_COMPOSITE,
        realm_available: paths::ADMIN_CLIENT_SCOPE_SCOPE_MAPPINGS_REALM_AVAILABLE,
        client: paths::ADMIN_CLIENT_SCOPE_SCOPE_MAPPINGS_CLIENT,
        client_composite: paths::ADMIN_CLIENT_SCOPE_SCOPE_MAPPINGS_CLIENT_COMPOSITE,
        client_available: paths::ADMIN_CLIENT_SCOPE_SCOPE_MAPPINGS_CLIENT_AVAILABLE,
    })
}

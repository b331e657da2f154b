//! Keycloak 26's organization invitations (`OrganizationInvitationResource`):
//! `members/invite-user` and `members/invite-existing-user` send one (an e-mail with an
//! `ORGIVT` action token whose `jti` is the invitation's id), and since Keycloak 26.5
//! `invitations` lists them, and `invitations/{id}` reads, deletes and resends one. A deleted
//! or expired invitation's link no longer works; an accepted one is removed.

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use axum::routing;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::RealmAdmin;
use super::organizations::{load_org, ManageOrgs, ViewOrgs};
use super::{new_id, no_content, AdminError, AdminResult};
use crate::http::paths;
use crate::realm::snapshot::RealmSnapshot;
use crate::store::{InvitationQuery, InvitationRow, InvitationStatus, OrganizationRow};
use crate::AppState;

/// The form of `invite-user` (Keycloak 26.0 named the names `first-name`/`last-name`; later
/// versions `firstName`/`lastName`: both are read).
#[derive(Debug, Default, Deserialize)]
pub struct InviteForm {
    email: Option<String>,
    #[serde(rename = "firstName", alias = "first-name")]
    first_name: Option<String>,
    #[serde(rename = "lastName", alias = "last-name")]
    last_name: Option<String>,
    id: Option<String>,
}

/// Whether an address passes Keycloak's `Validation.isEmailValid` (one `@`, a local part and
/// a domain, no spaces).
fn email_valid(e: &str) -> bool {
    match e.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !e.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// Who is invited: an existing user (id, e-mail, names) or an address without an account.
struct Invitee {
    user_id: Option<String>,
    email: String,
    names: Option<(String, String)>,
}

/// Mints the `ORGIVT` token (its `jti` the invitation's id), builds Keycloak's link (the
/// action-token link for a user, the registration link otherwise), records the invitation and
/// queues the mail; a mail that cannot be queued leaves no invitation behind.
async fn send_invitation(
    state: &AppState,
    snap: &RealmSnapshot,
    base: &str,
    org: &OrganizationRow,
    who: Invitee,
) -> AdminResult<Response> {
    use crate::action_token::{ActionToken, Kind};
    let key = snap.hmac_keys.first().ok_or(AdminError::Internal)?;
    let lifespan = crate::action_token::admin_lifespan(snap);
    let now = crate::clock::now();
    let mut t = ActionToken::new(
        Kind::OrgInvite(org.id.clone()),
        who.user_id.as_deref(),
        "account",
        now,
        now + lifespan,
    );
    t.jti = new_id();
    t.email = Some(who.email.clone());
    t.redirect_uri = Some(
        org.redirect_url
            .clone()
            .filter(|r| !r.trim().is_empty())
            .unwrap_or_else(|| crate::action_token::account_url(base, snap)),
    );
    let issuer = paths::url(base, paths::REALM, &snap.name);
    let jwt = t.sign(key, &issuer);
    let link = if who.user_id.is_some() {
        crate::action_token::link(base, snap, &jwt)
    } else {
        format!(
            "{}?response_type=code&client_id=account&token={jwt}",
            paths::url(base, paths::REGISTRATIONS, &snap.name)
        )
    };
    let (first_name, last_name) = who.names.clone().unzip();
    let invitation = InvitationRow {
        id: t.jti.clone(),
        organization_id: org.id.clone(),
        email: who.email.clone(),
        first_name,
        last_name,
        created_at: now,
        expires_at: now + lifespan,
        invite_link: Some(link.clone()),
    };
    state.store.create_invitation(&invitation).await?;
    let names = who.names.as_ref().map(|(f, l)| (f.as_str(), l.as_str()));
    let mail = crate::email::templates::org_invite(&who.email, &org.name, &link, lifespan, names);
    if let Err(e) = super::email::queue(state, snap, mail) {
        tracing::warn!(realm = %snap.name, error = %e, "failed to send the invitation e-mail");
        state
            .store
            .delete_invitation(&org.id, &invitation.id)
            .await?;
        return Err(AdminError::Status(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Failed to send invite email".into(),
        ));
    }
    Ok(no_content())
}

fn names_of(first: Option<String>, last: Option<String>) -> Option<(String, String)> {
    match (first, last) {
        (Some(f), Some(l)) if !f.is_empty() || !l.is_empty() => Some((f, l)),
        _ => None,
    }
}

/// `POST /organizations/{org}/members/invite-user` (form `email`, `firstName`, `lastName`):
/// an existing user (by e-mail) gets the invitation link, anyone else the registration link.
pub async fn invite_user(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageOrgs>,
    Path((_, org)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
    uri: Uri,
    axum::Form(form): axum::Form<InviteForm>,
) -> AdminResult<Response> {
    let o = load_org(&state, &snap, &org).await?;
    let base = state
        .base_url(&headers, &uri)
        .map_err(|_| AdminError::Internal)?;
    invite_address(
        &state,
        &snap,
        &base,
        &o,
        form.email,
        names_of(form.first_name, form.last_name),
    )
    .await
}

/// Keycloak's `inviteUser`: the address checked, a pending invitation of it refused (an
/// expired one replaced), then the invitation of the user who has it, or of the address.
async fn invite_address(
    state: &AppState,
    snap: &RealmSnapshot,
    base: &str,
    o: &OrganizationRow,
    email: Option<String>,
    names: Option<(String, String)>,
) -> AdminResult<Response> {
    let email = email.unwrap_or_default().trim().to_lowercase();
    if email.is_empty() {
        return Err(AdminError::bad("Email is required to invite a member"));
    }
    if !email_valid(&email) {
        return Err(AdminError::bad("Invalid email format"));
    }
    let now = crate::clock::now();
    for earlier in state.store.invitations_of_email(&o.id, &email).await? {
        if status_of(&earlier, now) == InvitationStatus::Pending {
            return Err(AdminError::Conflict(
                "User already has a pending invitation".into(),
            ));
        }
        state.store.delete_invitation(&o.id, &earlier.id).await?;
    }
    let found = state.store.users_by_email(&snap.id, &email).await?;
    let who = match found.first() {
        Some(row) => {
            if state.store.member(&o.id, &row.id).await?.is_some() {
                return Err(AdminError::Conflict(
                    "User already a member of the organization".into(),
                ));
            }
            let u = crate::users::parse_user(row)?;
            Invitee {
                user_id: Some(row.id.clone()),
                email,
                names: names_of(u.first_name, u.last_name),
            }
        }
        None => Invitee {
            user_id: None,
            email,
            names,
        },
    };
    send_invitation(state, snap, base, o, who).await
}

/// `POST /organizations/{org}/members/invite-existing-user` (form `id`).
pub async fn invite_existing_user(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageOrgs>,
    Path((_, org)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
    uri: Uri,
    axum::Form(form): axum::Form<InviteForm>,
) -> AdminResult<Response> {
    let o = load_org(&state, &snap, &org).await?;
    let id = form.id.unwrap_or_default();
    if id.trim().is_empty() {
        return Err(AdminError::Plain(
            "To invite a member you need to provide the user id".into(),
        ));
    }
    let row = state
        .store
        .user_by_id(&snap.id, id.trim())
        .await?
        .ok_or_else(|| AdminError::bad("User does not exist"))?;
    let u = crate::users::parse_user(&row)?;
    let email = u
        .email
        .clone()
        .filter(|e| !e.is_empty())
        .ok_or_else(|| AdminError::bad("User email missing"))?;
    let base = state
        .base_url(&headers, &uri)
        .map_err(|_| AdminError::Internal)?;
    let who = Invitee {
        user_id: Some(row.id.clone()),
        email,
        names: names_of(u.first_name, u.last_name),
    };
    send_invitation(&state, &snap, &base, &o, who).await
}

/// `PENDING` until `expires_at`, then `EXPIRED` (`OrganizationInvitationModel.isExpired`).
pub fn status_of(i: &InvitationRow, now: i64) -> InvitationStatus {
    if i.expires_at < now {
        InvitationStatus::Expired
    } else {
        InvitationStatus::Pending
    }
}

/// `OrganizationInvitationRepresentation`.
fn invitation_json(i: &InvitationRow, now: i64) -> Value {
    let status = match status_of(i, now) {
        InvitationStatus::Pending => "PENDING",
        InvitationStatus::Expired => "EXPIRED",
    };
    json!({
        "id": i.id,
        "organizationId": i.organization_id,
        "email": i.email,
        "firstName": i.first_name,
        "lastName": i.last_name,
        "sentDate": i.created_at,
        "expiresAt": i.expires_at,
        "status": status,
        "inviteLink": i.invite_link,
    })
}

/// The query of `GET /invitations`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvitationsQuery {
    first: Option<i64>,
    max: Option<i64>,
    status: Option<String>,
    email: Option<String>,
    search: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
}

/// `GET /organizations/{org}/invitations`: by id, filtered, paged (no limit unless `max`).
pub async fn list(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ViewOrgs>,
    Path((_, org)): Path<(String, String)>,
    Query(q): Query<InvitationsQuery>,
) -> AdminResult<Json<Vec<Value>>> {
    let o = load_org(&state, &snap, &org).await?;
    let now = crate::clock::now();
    let status = match q.status.as_deref() {
        None => None,
        Some("PENDING") => Some((InvitationStatus::Pending, now)),
        Some("EXPIRED") => Some((InvitationStatus::Expired, now)),
        Some(other) => {
            return Err(AdminError::bad(format!(
                "Invalid status '{other}': expected PENDING or EXPIRED"
            )))
        }
    };
    let found = state
        .store
        .invitations(
            &o.id,
            &InvitationQuery {
                email: q.email,
                first_name: q.first_name,
                last_name: q.last_name,
                search: q.search,
                status,
                first: q.first.unwrap_or(0).max(0),
                max: q.max.unwrap_or(-1),
            },
        )
        .await?;
    Ok(Json(
        found.iter().map(|i| invitation_json(i, now)).collect(),
    ))
}

async fn load_invitation(state: &AppState, org_id: &str, id: &str) -> AdminResult<InvitationRow> {
    state
        .store
        .invitation(org_id, id)
        .await?
        .ok_or_else(|| AdminError::Status(StatusCode::NOT_FOUND, "Invitation not found".into()))
}

/// `GET /organizations/{org}/invitations/{id}`.
pub async fn get(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ViewOrgs>,
    Path((_, org, id)): Path<(String, String, String)>,
) -> AdminResult<Json<Value>> {
    let o = load_org(&state, &snap, &org).await?;
    let i = load_invitation(&state, &o.id, &id).await?;
    Ok(Json(invitation_json(&i, crate::clock::now())))
}

/// `DELETE /organizations/{org}/invitations/{id}`: its link stops working.
pub async fn delete(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageOrgs>,
    Path((_, org, id)): Path<(String, String, String)>,
) -> AdminResult<Response> {
    let o = load_org(&state, &snap, &org).await?;
    if !state.store.delete_invitation(&o.id, &id).await? {
        return Err(AdminError::Status(
            StatusCode::NOT_FOUND,
            "Invitation not found".into(),
        ));
    }
    Ok(no_content())
}

/// `POST /organizations/{org}/invitations/{id}/resend`: the invitation is replaced by a new
/// one to the same address and names (a new link; the old one stops working).
pub async fn resend(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageOrgs>,
    Path((_, org, id)): Path<(String, String, String)>,
    headers: axum::http::HeaderMap,
    uri: Uri,
) -> AdminResult<Response> {
    let o = load_org(&state, &snap, &org).await?;
    let i = load_invitation(&state, &o.id, &id).await?;
    let base = state
        .base_url(&headers, &uri)
        .map_err(|_| AdminError::Internal)?;
    state.store.delete_invitation(&o.id, &i.id).await?;
    let names = names_of(i.first_name, i.last_name);
    invite_address(&state, &snap, &base, &o, Some(i.email), names).await
}

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::ADMIN_ORG_INVITE_USER, routing::post(invite_user))
        .route(
            paths::ADMIN_ORG_INVITE_EXISTING_USER,
            routing::post(invite_existing_user),
        )
        .route(paths::ADMIN_ORG_INVITATIONS, routing::get(list))
        .route(
            paths::ADMIN_ORG_INVITATION,
            routing::get(get).delete(delete),
        )
        .route(paths::ADMIN_ORG_INVITATION_RESEND, routing::post(resend))
}

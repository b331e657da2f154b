//! Building and signing tokens of Keycloak's shape: access token (`typ: Bearer`), ID token
//! (`typ: ID`), refresh token (`typ: Refresh`/`Offline`, HMAC-signed as Keycloak does), and the
//! token response. Plain functions over the realm snapshot, the user, and the time.

use std::borrow::Cow;
use std::collections::BTreeSet;

use aws_lc_rs::digest;
use serde_json::{json, Map, Value};

use crate::crypto::{b64url, jws, keys};
use crate::mappers::{self, Input, Kind, Mapper, Target};
use crate::realm::index::{role_refs, scope_target, Role};
use crate::realm::organizations::{OrgScope, Organizations};
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::{ClientRepresentation, ClientScopeRepresentation, UserRepresentation};

use crate::http::oauth_error::OAuthError;

pub mod acr;

/// Lifespans in seconds, from the realm and the client's overrides.
#[derive(Debug, Clone, Copy)]
pub struct Lifespans {
    /// Access token.
    pub access: i64,
    /// SSO session idle.
    pub idle: i64,
    /// SSO session max.
    pub max: i64,
}

impl Lifespans {
    /// Reads `accessTokenLifespan`, `ssoSessionIdleTimeout`, `ssoSessionMaxLifespan` and the
    /// client attribute `access.token.lifespan`.
    pub fn of(snap: &RealmSnapshot, client: &ClientRepresentation) -> Self {
        let access = snap
            .client_settings(client)
            .access_token_lifespan
            .unwrap_or(snap.settings.access_token_lifespan);
        let s = &snap.settings.sessions;
        let (idle, max) = (s.sso_idle, s.sso_max);
        let (client_idle, client_max) = (s.client_idle, s.client_max);
        Lifespans {
            access,
            idle: if client_idle > 0 {
                client_idle.min(idle)
            } else {
                idle
            },
            max: if client_max > 0 {
                client_max.min(max)
            } else {
                max
            },
        }
    }
}

/// Default scopes of the client plus the optional ones asked for in `scope`. `openid` is not a
/// client scope. Unknown scopes are `invalid_scope`, as in Keycloak.
pub fn resolve_scopes<'a>(
    snap: &'a RealmSnapshot,
    client: &ClientRepresentation,
    scope_param: Option<&str>,
) -> Result<(Vec<&'a ClientScopeRepresentation>, bool), OAuthError> {
    let param = scope_param.unwrap_or_default();
    let orgs = &snap.index.organizations;
    if Organizations::too_many_requested(param) {
        return Err(OAuthError::invalid_scope(format!(
            "Invalid scopes: {param}"
        )));
    }
    let mut out: Vec<&ClientScopeRepresentation> = Vec::new();
    for name in client.default_client_scopes.iter().flatten() {
        if orgs.replaced_by_dynamic(param, name) {
            continue;
        }
        if let Some(s) = snap.index.scope(&snap.rep, name) {
            out.push(s);
        }
    }
    let mut openid = false;
    let mut invalid = Vec::new();
    for requested in param.split(' ').filter(|s| !s.is_empty()) {
        if requested == "openid" {
            openid = true;
            continue;
        }
        if out.iter().any(|s| s.name.as_deref() == Some(requested)) {
            continue;
        }
        let optional = client
            .optional_client_scopes
            .iter()
            .flatten()
            .any(|n| n == requested);
        match snap.index.scope(&snap.rep, requested) {
            Some(s) if optional => out.push(s),
            // `organization:<alias>`, `organization:*` (see `realm::organizations`).
            _ => match orgs.dynamic_scope(&snap.rep, client, requested) {
                Some(s) => out.push(s),
                None => invalid.push(requested),
            },
        }
    }
    if !invalid.is_empty() {
        return Err(OAuthError::invalid_scope(format!(
            "Invalid scopes: {}",
            invalid.join(" ")
        )));
    }
    Ok((out, openid))
}

/// The scopes the user is granted: a dynamic organization scope that yields no organization
/// for the user is left out.
fn granted_scopes<'a>(req: &TokenRequest<'a>) -> Vec<&'a ClientScopeRepresentation> {
    req.snap
        .index
        .organizations
        .granted(req.memberships, req.scopes)
}

/// The ids of the organizations `user_id` is a member of, as the token of a request with
/// `scopes` needs them: read from the store (one query) only when the scopes ask for an
/// organization scope and the realm has enabled organizations; empty otherwise.
///
/// `selected` is the organization the user chose at login (Keycloak's client note `kc.org`):
/// the plain `organization` scope then yields that one, while the user is still its member
/// (`OrganizationScope.ANY`).
pub async fn memberships(
    store: &dyn crate::store::Store,
    snap: &RealmSnapshot,
    user_id: &str,
    scopes: &[&ClientScopeRepresentation],
    selected: Option<&str>,
) -> Result<Vec<String>, crate::store::StoreError> {
    let orgs = &snap.index.organizations;
    let Some(kind) = orgs.requested(scopes) else {
        return Ok(Vec::new());
    };
    if !orgs.any_enabled() {
        return Ok(Vec::new());
    }
    let mut ids = store.membership_ids(&snap.id, user_id).await?;
    if let (OrgScope::Any, Some(chosen)) = (kind, selected) {
        if ids.iter().any(|id| id == chosen) {
            ids = vec![chosen.to_string()];
        }
    }
    Ok(ids)
}

/// The organization a token of `req` carries for the plain `organization` scope, which its
/// refresh token keeps (`kc.org`) so that a refreshed token names the same one.
fn chosen_organization<'a>(req: &TokenRequest<'a>) -> Option<&'a str> {
    let orgs = &req.snap.index.organizations;
    if orgs.requested(req.scopes) != Some(OrgScope::Any) {
        return None;
    }
    match orgs.for_token(req.memberships, req.scopes).as_slice() {
        [one] => Some(one.id.as_str()),
        _ => None,
    }
}

/// The `scope` string: `openid` first when asked, then the scopes that go into it.
pub fn scope_string(scopes: &[&ClientScopeRepresentation], openid: bool) -> String {
    let mut names: Vec<&str> = Vec::new();
    if openid {
        names.push("openid");
    }
    for s in scopes {
        let include = s
            .attributes
            .as_ref()
            .and_then(|a| a.get("include.in.token.scope"))
            .and_then(Value::as_str)
            != Some("false");
        if let (true, Some(n)) = (include, s.name.as_deref()) {
            names.push(n);
        }
    }
    names.join(" ")
}

/// The user's effective roles: direct, through groups, composites expanded.
pub fn effective_roles(snap: &RealmSnapshot, user: &UserRepresentation) -> BTreeSet<Role> {
    let mut direct = role_refs(user.realm_roles.as_ref(), user.client_roles.as_ref());
    for g in user.groups.iter().flatten() {
        direct.extend(snap.index.group_roles(g).iter().cloned());
    }
    snap.index.expand(direct)
}

/// A role reference as Keycloak's role settings write it (`client.role` or a realm role name):
/// a client role when the part before the last dot is a client of the realm.
pub fn role_reference(snap: &RealmSnapshot, s: &str) -> Role {
    match parse_role(s) {
        Role::Client(c, _) if snap.index.client(&snap.rep, &c).is_none() => Role::Realm(s.into()),
        r => r,
    }
}

/// The user's effective roles (direct, through groups, composites expanded), limited to what
/// the client may see: everything with `fullScopeAllowed`, otherwise the client's own roles
/// and the scope mappings of the client and of its scopes (`TokenManager.getAccess`).
pub fn roles_in_scope(
    snap: &RealmSnapshot,
    client: &ClientRepresentation,
    user: &UserRepresentation,
    scopes: &[&ClientScopeRepresentation],
) -> BTreeSet<Role> {
    let mut direct = role_refs(user.realm_roles.as_ref(), user.client_roles.as_ref());
    for g in user.groups.iter().flatten() {
        direct.extend(snap.index.group_roles(g).iter().cloned());
    }
    let effective = snap.index.expand(direct);
    let full = client.full_scope_allowed.unwrap_or(true);
    if full {
        return effective;
    }
    let client_id = client.client_id.as_deref().unwrap_or_default();
    let mut allowed: Vec<Role> = Vec::new();
    if let Some(t) = scope_target(Some(client_id), None) {
        allowed.extend(snap.index.scope_mappings(&t).iter().cloned());
    }
    for s in scopes {
        if let Some(t) = scope_target(None, s.name.as_deref()) {
            allowed.extend(snap.index.scope_mappings(&t).iter().cloned());
        }
    }
    let allowed = snap.index.expand(allowed);
    effective
        .into_iter()
        .filter(|r| allowed.contains(r) || matches!(r, Role::Client(c, _) if c == client_id))
        .collect()
}

/// Keycloak's `KeycloakModelUtils.parseRole`: `client.role` names a client role (split at the
/// last dot), a name without a dot a realm role.
fn parse_role(s: &str) -> Role {
    match s.rsplit_once('.') {
        Some((client, role)) => Role::Client(client.to_string(), role.to_string()),
        None => Role::Realm(s.to_string()),
    }
}

/// Everything a token is made from.
#[derive(Debug)]
pub struct TokenRequest<'a> {
    /// Realm.
    pub snap: &'a RealmSnapshot,
    /// Issuer URL.
    pub issuer: &'a str,
    /// Requesting client.
    pub client: &'a ClientRepresentation,
    /// User id.
    pub user_id: &'a str,
    /// User.
    pub user: &'a UserRepresentation,
    /// Session id (`sid`), none for client credentials.
    pub sid: Option<&'a str>,
    /// Session notes.
    pub notes: &'a Map<String, Value>,
    /// Client scopes in effect.
    pub scopes: &'a [&'a ClientScopeRepresentation],
    /// The ids of the user's organizations, as [`memberships`] reads them for `scopes`.
    pub memberships: &'a crate::realm::organizations::Memberships,
    /// `openid` requested.
    pub openid: bool,
    /// `nonce` for the ID token.
    pub nonce: Option<&'a str>,
    /// Now, seconds since the epoch.
    pub now: i64,
    /// The `acr` of the login the token is for ([`acr::acr`]; `1` where no browser login
    /// ran, as Keycloak's password grant and client credentials give).
    pub acr: &'a str,
}

/// The protocol mappers in effect, read once per realm snapshot: the scopes' first, then the
/// client's.
fn mappers_of<'a>(req: &TokenRequest<'a>) -> Vec<Cow<'a, [Mapper]>> {
    let ix = &req.snap.index;
    let mut out: Vec<Cow<'a, [Mapper]>> = req
        .scopes
        .iter()
        .map(|s| ix.scope_mappers(&req.snap.rep, s))
        .collect();
    out.push(ix.client_mappers(&req.snap.rep, req.client));
    out
}

/// The client's web origins for `allowed-origins` (`http::cors::web_origins`), relative redirect
/// URIs resolved against the server of the issuer.
fn web_origins(client: &ClientRepresentation, issuer: &str) -> Vec<String> {
    let base = issuer.rsplit_once("/realms/").map(|(b, _)| b);
    crate::http::cors::web_origins(client, base)
}

/// The mappers in effect and what they read besides the request (group paths, web origins,
/// organizations), worked out once per token response and used for each token of it.
pub struct MapperData<'a> {
    mappers: Vec<Cow<'a, [Mapper]>>,
    groups: Vec<String>,
    origins: Vec<String>,
    organizations: Vec<&'a crate::realm::organizations::Organization>,
}

impl<'a> MapperData<'a> {
    /// Works it out for a request.
    pub fn of(req: &TokenRequest<'a>) -> Self {
        let groups = req
            .user
            .groups
            .iter()
            .flatten()
            .map(|g| {
                if g.starts_with('/') {
                    g.clone()
                } else {
                    format!("/{g}")
                }
            })
            .collect();
        MapperData {
            mappers: mappers_of(req),
            groups,
            origins: web_origins(req.client, req.issuer),
            organizations: req
                .snap
                .index
                .organizations
                .for_token(req.memberships, req.scopes),
        }
    }

    fn iter(&self) -> impl Iterator<Item = &Mapper> {
        self.mappers.iter().flat_map(|list| list.iter())
    }

    /// `oidc-hardcoded-role-mapper` (adds `role`) and `oidc-role-name-mapper` (renames `role`
    /// to `new.role.name`), applied to the roles before the role mappers write them.
    pub fn apply_role_mappers(
        &self,
        req: &TokenRequest<'_>,
        mut roles: BTreeSet<Role>,
    ) -> BTreeSet<Role> {
        for m in self.iter() {
            match m.kind() {
                Kind::HardcodedRole => {
                    if let Some(role) = m
                        .role()
                        .map(parse_role)
                        .filter(|r| req.snap.index.role_exists(r))
                    {
                        roles.insert(role);
                    }
                }
                Kind::RoleName => {
                    if let (Some(from), Some(to)) = (m.role().map(parse_role), m.new_role_name()) {
                        if roles.remove(&from) {
                            roles.insert(match (&from, to.contains('.')) {
                                // A plain new name stays in the role's own container.
                                (Role::Client(c, _), false) => {
                                    Role::Client(c.clone(), to.to_string())
                                }
                                _ => parse_role(to),
                            });
                        }
                    }
                }
                _ => {}
            }
        }
        roles
    }

    /// The mapper-driven claims for one target.
    pub fn claims(
        &self,
        req: &TokenRequest<'_>,
        target: Target,
        roles: &BTreeSet<Role>,
    ) -> Map<String, Value> {
        let client_id = req.client.client_id.as_deref().unwrap_or_default();
        let amr = if self.iter().any(|m| m.kind() == Kind::Amr) {
            acr::amr(&req.snap.flows, req.notes, req.now)
        } else {
            Vec::new()
        };
        let input = Input {
            user_id: req.user_id,
            user: req.user,
            client_id,
            roles,
            groups: &self.groups,
            notes: req.notes,
            web_origins: &self.origins,
            acr: req.acr,
            amr: &amr,
            organizations: &self.organizations,
        };
        let mut claims = Map::new();
        let mut resolve = false;
        for m in self.iter() {
            if m.kind() == Kind::AudienceResolve {
                resolve |= m.writes(target);
                continue;
            }
            m.apply(target, &input, &mut claims);
        }
        if resolve {
            mappers::resolve_audience(&mut claims, client_id);
        }
        claims
    }
}

fn alg_for(snap: &RealmSnapshot, alg: Option<&str>) -> String {
    alg.map(str::to_string)
        .or_else(|| snap.rep.default_signature_algorithm.clone())
        .unwrap_or_else(|| "RS256".into())
}

fn signing_key<'a>(snap: &'a RealmSnapshot, alg: &str) -> Result<&'a keys::RealmKey, OAuthError> {
    keys::active_for(&snap.keys, alg).ok_or_else(|| {
        tracing::error!(realm = %snap.name, alg, "no active signing key for the algorithm");
        OAuthError::server_error()
    })
}

/// The claims the mappers of `client` write for `target` about user `user_id` in a token of
/// `scope`, computed now: the userinfo answer, and the introspection of a lightweight access
/// token (whose claims were left out of the token itself).
#[allow(clippy::too_many_arguments)]
pub async fn claims_now(
    store: &dyn crate::store::Store,
    snap: &RealmSnapshot,
    issuer: &str,
    client: &ClientRepresentation,
    user_id: &str,
    user: &UserRepresentation,
    scope: &str,
    target: Target,
    now: i64,
) -> Result<Map<String, Value>, OAuthError> {
    let (scopes, _) = resolve_scopes(snap, client, Some(scope)).unwrap_or_default();
    let notes: Map<String, Value> = Map::new();
    let memberships = memberships(store, snap, user_id, &scopes, None).await?;
    let req = TokenRequest {
        snap,
        issuer,
        client,
        user_id,
        user,
        sid: None,
        notes: &notes,
        scopes: &scopes,
        memberships: &memberships,
        openid: true,
        nonce: None,
        now,
        acr: "1",
    };
    let mappers = MapperData::of(&req);
    let roles = mappers.apply_role_mappers(&req, roles_in_scope(snap, client, user, &scopes));
    Ok(mappers.claims(&req, target, &roles))
}

/// Claims signed as a JWT (`typ` `JWT`) with the realm's active key for `alg` (absent: the
/// realm's default algorithm), as Keycloak signs a userinfo answer.
pub fn sign_jwt(
    snap: &RealmSnapshot,
    alg: Option<&str>,
    claims: &Value,
) -> Result<String, OAuthError> {
    let alg = alg_for(snap, alg);
    jws::sign(signing_key(snap, &alg)?, "JWT", claims).map_err(|e| {
        tracing::error!(realm = %snap.name, alg, error = %e, "signing failed");
        OAuthError::server_error()
    })
}

fn half_hash(alg: &str, token: &str) -> String {
    let d = match alg {
        "RS384" | "PS384" | "ES384" => &digest::SHA384,
        "RS512" | "PS512" | "ES512" | "EdDSA" => &digest::SHA512,
        _ => &digest::SHA256,
    };
    let h = digest::digest(d, token.as_bytes());
    b64url(&h.as_ref()[..h.as_ref().len() / 2])
}

/// What was issued.
#[derive(Debug)]
pub struct Issued {
    /// Signed access token.
    pub access_token: String,
    /// Its `jti`.
    pub access_jti: String,
    /// Signed ID token, when `openid` was asked.
    pub id_token: Option<String>,
    /// The `scope` string.
    pub scope: String,
    /// Access token lifetime.
    pub expires_in: i64,
    /// The access token's `aud`.
    pub audience: Vec<String>,
}

/// Builds and signs the access token and, with `openid`, the ID token.
pub fn issue(req: &TokenRequest<'_>) -> Result<Issued, OAuthError> {
    issue_with_audience(req, None)
}

/// Keycloak's `TokenManager.restrictRequestedAudience` (standard token exchange with
/// `audience`): the token's `aud` becomes the requested clients that the mappers put there,
/// and `resource_access` keeps only those clients.
pub fn restrict_audience(access: &mut Map<String, Value>, requested: &[String]) {
    let present = audiences(access);
    let mut kept: Vec<String> = Vec::new();
    for r in requested {
        if present.contains(r) && !kept.contains(r) {
            kept.push(r.clone());
        }
    }
    match kept.len() {
        0 => {
            access.remove("aud");
        }
        1 => {
            access.insert("aud".into(), json!(kept[0]));
        }
        _ => {
            access.insert("aud".into(), json!(kept));
        }
    }
    if let Some(Value::Object(ra)) = access.get_mut("resource_access") {
        ra.retain(|client, _| requested.contains(client));
    }
}

/// The `aud` of a claims set as a list.
pub fn audiences(claims: &Map<String, Value>) -> Vec<String> {
    match claims.get("aud") {
        Some(Value::String(a)) => vec![a.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// [`issue`], with the access token's audience restricted to `requested` when given (see
/// [`restrict_audience`]).
#[tracing::instrument(level = "debug", skip_all)]
pub fn issue_with_audience(
    req: &TokenRequest<'_>,
    requested: Option<&[String]>,
) -> Result<Issued, OAuthError> {
    build(req, requested, Shape::token_endpoint(req))
}

/// An RPT (Keycloak's `AuthorizationTokenService.createAuthorizationResponse`): the access
/// token of [`issue`] (no ID token) carrying `authorization` and, when its `aud` lacks it, the
/// resource server's `clientId`.
#[tracing::instrument(level = "debug", skip_all)]
pub fn issue_rpt(
    req: &TokenRequest<'_>,
    authorization: Value,
    resource_server: &str,
) -> Result<Issued, OAuthError> {
    let mut shape = Shape::token_endpoint(req);
    shape.id_token = false;
    shape.rpt = Some((authorization, resource_server));
    build(req, None, shape)
}

/// What the authorization endpoint asks for when it answers with tokens (implicit and hybrid
/// response types, Keycloak's `OIDCLoginProtocol.authenticated`).
#[derive(Debug, Clone, Copy, Default)]
pub struct FrontChannel<'a> {
    /// `id_token` is among the response types: an ID token whether or not `openid` was asked.
    pub id_token: bool,
    /// `token` is among the response types: the ID token carries `at_hash`.
    pub token: bool,
    /// The code issued beside the tokens (hybrid): the ID token carries its `c_hash`.
    pub code: Option<&'a str>,
    /// The request's `state`: when not empty, the ID token carries its `s_hash`.
    pub state: Option<&'a str>,
    /// No code among the response types (pure implicit): the access token lives the realm's
    /// `accessTokenLifespanForImplicitFlow` (`TokenManager.getTokenExpiration`).
    pub implicit: bool,
}

/// Tokens for the authorization endpoint's answer (implicit or hybrid flow). The ID token's
/// `at_hash`, `c_hash` and `s_hash` use the hash of the ID token's signing algorithm, as
/// Keycloak's `AccessTokenResponseBuilder.generateOIDCHash`.
#[tracing::instrument(level = "debug", skip_all)]
pub fn issue_front_channel(
    req: &TokenRequest<'_>,
    front: &FrontChannel<'_>,
) -> Result<Issued, OAuthError> {
    let access = front
        .implicit
        .then_some(req.snap.settings.access_token_lifespan_implicit);
    build(
        req,
        None,
        Shape {
            id_token: front.id_token,
            at_hash: front.token,
            c_hash: front.code,
            s_hash: front.state.filter(|s| !s.is_empty()),
            access_lifespan: access,
            rpt: None,
        },
    )
}

/// How the tokens of one answer are shaped.
struct Shape<'a> {
    id_token: bool,
    at_hash: bool,
    c_hash: Option<&'a str>,
    s_hash: Option<&'a str>,
    access_lifespan: Option<i64>,
    /// An RPT's `authorization` claim and resource server `clientId`.
    rpt: Option<(Value, &'a str)>,
}

impl Shape<'_> {
    /// The token endpoint: an ID token with `openid`, always with `at_hash`.
    fn token_endpoint(req: &TokenRequest<'_>) -> Self {
        Shape {
            id_token: req.openid,
            at_hash: true,
            c_hash: None,
            s_hash: None,
            access_lifespan: None,
            rpt: None,
        }
    }
}

fn build(
    req: &TokenRequest<'_>,
    requested: Option<&[String]>,
    shape: Shape<'_>,
) -> Result<Issued, OAuthError> {
    let mut lifespans = Lifespans::of(req.snap, req.client);
    if let Some(access) = shape.access_lifespan {
        lifespans.access = access;
    }
    let mapper_data = MapperData::of(req);
    let roles = mapper_data.apply_role_mappers(
        req,
        roles_in_scope(req.snap, req.client, req.user, req.scopes),
    );
    let client_id = req.client.client_id.as_deref().unwrap_or_default();
    let scope = scope_string(&granted_scopes(req), req.openid);
    let access_jti = uuid::Uuid::new_v4().to_string();
    let exp = req.now + lifespans.access;

    let mut access = Map::new();
    access.insert("exp".into(), json!(exp));
    access.insert("iat".into(), json!(req.now));
    access.insert("jti".into(), json!(access_jti));
    access.insert("iss".into(), json!(req.issuer));
    let settings = req.snap.client_settings(req.client);
    let target = if settings.lightweight_access_token {
        Target::LightweightAccess
    } else {
        Target::Access
    };
    let mapped = mapper_data.claims(req, target, &roles);
    if let Some(aud) = mapped.get("aud") {
        access.insert("aud".into(), aud.clone());
    }
    if let Some(sub) = mapped.get("sub") {
        access.insert("sub".into(), sub.clone());
    }
    access.insert("typ".into(), json!("Bearer"));
    access.insert("azp".into(), json!(client_id));
    if let Some(sid) = req.sid {
        access.insert("sid".into(), json!(sid));
    }
    for (k, v) in mapped {
        access.entry(k).or_insert(v);
    }
    access.insert("scope".into(), json!(scope));
    if let Some(requested) = requested {
        restrict_audience(&mut access, requested);
    }
    if let Some((authorization, rs)) = shape.rpt {
        access.insert("authorization".into(), authorization);
        let mut aud = audiences(&access);
        if !aud.iter().any(|a| a == rs) {
            aud.push(rs.to_string());
            access.insert(
                "aud".into(),
                if aud.len() == 1 {
                    json!(aud[0])
                } else {
                    json!(aud)
                },
            );
        }
    }
    let audience = audiences(&access);
    let access_alg = alg_for(req.snap, settings.access_token_alg.as_deref());
    let access_token = jws::sign(
        signing_key(req.snap, &access_alg)?,
        "JWT",
        &Value::Object(access),
    )
    .map_err(|e| {
        tracing::error!(error = %e, "signing failed");
        OAuthError::server_error()
    })?;
    let access_token = within_size_limit(req, "access token", access_token)?;

    let id_token = if shape.id_token {
        let id_alg = alg_for(req.snap, settings.id_token_alg.as_deref());
        let mut id = Map::new();
        id.insert("exp".into(), json!(exp));
        id.insert("iat".into(), json!(req.now));
        if let Some(t) = req
            .notes
            .get("AUTH_TIME")
            .and_then(|v| v.as_str()?.parse::<i64>().ok())
        {
            id.insert("auth_time".into(), json!(t));
        }
        id.insert("jti".into(), json!(uuid::Uuid::new_v4().to_string()));
        id.insert("iss".into(), json!(req.issuer));
        id.insert("aud".into(), json!(client_id));
        id.insert("sub".into(), json!(req.user_id));
        id.insert("typ".into(), json!("ID"));
        id.insert("azp".into(), json!(client_id));
        if let Some(n) = req.nonce {
            id.insert("nonce".into(), json!(n));
        }
        if let Some(sid) = req.sid {
            id.insert("sid".into(), json!(sid));
        }
        if shape.at_hash {
            id.insert("at_hash".into(), json!(half_hash(&id_alg, &access_token)));
        }
        if let Some(code) = shape.c_hash {
            id.insert("c_hash".into(), json!(half_hash(&id_alg, code)));
        }
        if let Some(state) = shape.s_hash {
            id.insert("s_hash".into(), json!(half_hash(&id_alg, state)));
        }
        for (k, v) in mapper_data.claims(req, Target::Id, &roles) {
            if k != "aud" {
                id.entry(k).or_insert(v);
            }
        }
        let id_token = jws::sign(signing_key(req.snap, &id_alg)?, "JWT", &Value::Object(id))
            .map_err(|_| OAuthError::server_error())?;
        Some(within_size_limit(req, "ID token", id_token)?)
    } else {
        None
    };
    Ok(Issued {
        access_token,
        access_jti,
        id_token,
        scope,
        expires_in: lifespans.access,
        audience,
    })
}

/// A signed token, or an error when it is past the size limit the server accepts back
/// ([`jws::MAX_TOKEN_LEN`]): a token the server issues always passes its own checks.
fn within_size_limit(
    req: &TokenRequest<'_>,
    kind: &str,
    token: String,
) -> Result<String, OAuthError> {
    if token.len() <= jws::MAX_TOKEN_LEN {
        return Ok(token);
    }
    tracing::warn!(
        realm = %req.snap.name,
        client = req.client.client_id.as_deref().unwrap_or_default(),
        bytes = token.len(),
        limit = jws::MAX_TOKEN_LEN,
        "{kind} too large: not issued (too many roles or claims in the client's scope)"
    );
    Err(OAuthError::token_too_large(format!(
        "The {kind} would be {} bytes, above the limit of {} bytes: too many roles or claims in scope",
        token.len(),
        jws::MAX_TOKEN_LEN
    )))
}

/// The refresh token's claim holding the organization the login chose (the name of Keycloak's
/// client note).
pub const ORGANIZATION_CLAIM: &str = "kc.org";

/// A refresh token: HMAC-signed like Keycloak's, `aud` the issuer.
#[tracing::instrument(level = "debug", skip_all)]
pub fn refresh_token(
    req: &TokenRequest<'_>,
    jti: &str,
    exp: Option<i64>,
    offline: bool,
) -> Result<String, OAuthError> {
    let key = req.snap.hmac_keys.first().ok_or_else(|| {
        tracing::error!(realm = %req.snap.name, "no HMAC key for refresh tokens");
        OAuthError::server_error()
    })?;
    let mut c = Map::new();
    if let Some(exp) = exp {
        c.insert("exp".into(), json!(exp));
    }
    c.insert("iat".into(), json!(req.now));
    c.insert("jti".into(), json!(jti));
    c.insert("iss".into(), json!(req.issuer));
    c.insert("aud".into(), json!(req.issuer));
    c.insert("sub".into(), json!(req.user_id));
    c.insert(
        "typ".into(),
        json!(if offline { "Offline" } else { "Refresh" }),
    );
    c.insert(
        "azp".into(),
        json!(req.client.client_id.as_deref().unwrap_or_default()),
    );
    if let Some(sid) = req.sid {
        c.insert("sid".into(), json!(sid));
    }
    // The login's `acr`, which Keycloak keeps in the client session (`AcrStore`): a refreshed
    // token carries the same.
    c.insert("acr".into(), json!(req.acr));
    if let Some(org) = chosen_organization(req) {
        c.insert(ORGANIZATION_CLAIM.into(), json!(org));
    }
    c.insert(
        "scope".into(),
        json!(scope_string(&granted_scopes(req), req.openid)),
    );
    Ok(jws::sign_hmac(key, "JWT", &Value::Object(c)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_is_left_half_of_the_digest() {
        // RFC: base64url of the left-most half of SHA-256 of the ASCII token.
        let h = half_hash("RS256", "abc");
        assert_eq!(
            h,
            b64url(&digest::digest(&digest::SHA256, b"abc").as_ref()[..16])
        );
        assert_eq!(half_hash("EdDSA", "abc").len(), 43);
    }

    #[test]
    fn requested_audience_is_intersected_and_resource_access_filtered() {
        let mut c = json!({
            "aud": ["api-a", "api-b", "account"],
            "resource_access": {"api-b": {"roles": ["read"]}, "account": {"roles": ["view"]}}
        })
        .as_object()
        .cloned()
        .unwrap();
        restrict_audience(&mut c, &["api-b".to_string(), "api-c".to_string()]);
        assert_eq!(c["aud"], json!("api-b"));
        assert_eq!(c["resource_access"], json!({"api-b": {"roles": ["read"]}}));
        assert_eq!(audiences(&c), vec!["api-b".to_string()]);
        let mut none = json!({"aud": "account"}).as_object().cloned().unwrap();
        restrict_audience(&mut none, &["api-c".to_string()]);
        assert!(none.get("aud").is_none());
    }
}

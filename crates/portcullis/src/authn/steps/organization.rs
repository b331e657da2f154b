//! The `organization` authenticator: Keycloak 26's "Organization Identity-First Login"
//! (`OrganizationAuthenticator`), in the default browser flow's `Organization` sub-flow.
//!
//! While the realm enables organizations and has some, the login asks for the username first.
//! The organization of the login is then the one the request names (`organization:<alias>`),
//! the user's only one, or the one whose domain is the typed e-mail's
//! (`Organizations.resolveOrganization`). With `scope=organization` and a user in several
//! organizations, the user chooses one (`select-organization.ftl`, field `kc.org`), and the
//! tokens of the login carry that one. A user of the organization without a password whose
//! domain an identity provider of the organization serves is sent to that provider
//! (`tryRedirectBroker`, through [`crate::authn::broker_login`]); the rest of the flow (the password form) runs for the user the step
//! identified.
//!
//! The decisions are plain functions ([`resolve`], [`redirect_target`]); [`authenticate`]
//! reads what they need from the store.

use std::borrow::Cow;

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use crate::authn::browser::Fields;
use crate::authn::pages::{error_page, escape, internal_error, page, realm_title};
use crate::authn::PendingLogin;
use crate::model::flows::Authenticator;
use crate::realm::organizations::{OrgScope, Organization, Organizations};
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::UserRepresentation;
use crate::store::MembershipType;
use crate::users::{find_user, parse_user};
use crate::AppState;

/// The form field of the selection page, and the client note's name.
pub const FIELD: &str = "kc.org";

/// Keycloak's `invalidUsernameMessage`.
const INVALID_USERNAME: &str = "Invalid username.";

/// `OrganizationAuthenticatorFactory.REQUIRES_USER_MEMBERSHIP`.
const REQUIRES_MEMBERSHIP: &str = "requiresUserMembership";

/// An identity provider's organization settings (`OrganizationModel`).
const IDP_DOMAIN: &str = "kc.org.domain";
const IDP_REDIRECT_EMAIL_MATCHES: &str = "kc.org.broker.redirect.mode.email-matches";
/// `OrganizationDomainModel.ANY_DOMAIN`.
const ANY_DOMAIN: &str = "ANY";

/// What the step did.
pub enum OrgOut {
    /// Nothing for the organization step: the next steps run (for the user it identified,
    /// if any).
    Attempted,
    /// The identity-first username page, pre-filled, with an error or notice.
    AskUsername {
        username: Option<String>,
        error: Option<Cow<'static, str>>,
    },
    /// The organization selection page: (alias, name) of the user's organizations.
    Select(Vec<(String, String)>),
    /// The login continues at the organization's identity provider `alias`, with the name
    /// given as its `login_hint`.
    Broker {
        alias: String,
        login_hint: Option<String>,
    },
    /// An answer of its own (an error page).
    Answer(Response),
}

/// The user as the decisions see them.
pub struct Member<'a> {
    /// Ids of the user's organizations.
    pub memberships: &'a [String],
    /// Ids of the organizations the user is a managed member of.
    pub managed: &'a [String],
    /// The user's e-mail.
    pub email: Option<&'a str>,
}

/// `Organizations.getEmailDomain`: the text after the first `@`.
pub fn email_domain(s: &str) -> Option<&str> {
    s.split_once('@').map(|(_, d)| d)
}

/// `Organizations.isSameDomain`: equal ignoring case, or under a `*.` wildcard domain.
pub fn same_domain(domain: &str, pattern: &str) -> bool {
    let domain = domain.to_lowercase();
    let pattern = pattern.to_lowercase();
    if domain == pattern {
        return true;
    }
    match pattern.strip_prefix("*.") {
        Some(base) => domain == base || domain.ends_with(&format!(".{base}")),
        None => false,
    }
}

/// The number of labels of a domain (`getDomainPartsSize`).
fn parts(domain: &str) -> usize {
    domain.split('.').count()
}

/// `Organizations.resolveByDomain`: among `orgs`, the one with the most specific domain
/// matching `domain` (any match when there is only one organization).
fn by_domain<'a>(orgs: &[&'a Organization], domain: Option<&str>) -> Option<&'a Organization> {
    let domain = domain?;
    let mut best: Option<(usize, &Organization)> = None;
    for o in orgs {
        let Some(specific) = o
            .domains
            .iter()
            .filter(|d| same_domain(domain, d))
            .map(|d| parts(d.trim_start_matches("*.")))
            .max()
        else {
            continue;
        };
        if orgs.len() == 1 {
            return Some(o);
        }
        if best.is_none_or(|(n, _)| specific > n) {
            best = Some((specific, o));
        }
    }
    best.map(|(_, o)| o)
}

/// The organization scope a request's `scope` parameter asks for
/// (`OrganizationScope.valueOfScope`).
pub fn requested_scope(ix: &Organizations, scope: Option<&str>) -> Option<OrgScope> {
    scope?
        .split(' ')
        .filter(|s| !s.is_empty())
        .find_map(|s| ix.parse(s))
}

/// `Organizations.resolveOrganization(session, user, domain)` in a login: the organization
/// noted for the login, else what the requested scope yields (the named organization, or the
/// user's), checked against the user's memberships and the domain; else the user's only
/// organization, a managed membership, or the organization of the e-mail domain. Enabled
/// organizations only.
pub fn resolve<'a>(
    ix: &'a Organizations,
    noted: Option<&str>,
    scope: Option<OrgScope>,
    user: Option<&Member<'_>>,
    domain: Option<&str>,
) -> Option<&'a Organization> {
    if !ix.present() {
        return None;
    }
    let email_domain = domain.or_else(|| user.and_then(|u| u.email).and_then(email_domain));
    let enabled = |o: &&Organization| o.enabled;
    let mine = |u: &Member<'_>| -> Vec<&'a Organization> {
        ix.list()
            .iter()
            .filter(enabled)
            .filter(|o| u.memberships.contains(&o.id))
            .collect()
    };
    let candidates: Vec<&Organization> = match (noted, scope) {
        (Some(id), _) => ix.by_id(id).into_iter().collect(),
        (None, Some(OrgScope::Single(i))) => ix.list().get(i).into_iter().collect(),
        (None, Some(OrgScope::Any | OrgScope::All)) => user.map(mine).unwrap_or_default(),
        (None, None) => Vec::new(),
    };
    if let [only] = candidates.as_slice() {
        match user {
            None => return Some(only),
            Some(u) if u.memberships.contains(&only.id) => return Some(only),
            Some(_) => return by_domain(&candidates, email_domain),
        }
    } else if scope.is_some() && user.is_some() {
        return by_domain(&candidates, email_domain);
    }
    // No membership: the organization whose domain the e-mail's is (`getByDomainName`).
    let owner = || {
        let d = email_domain?;
        let owners: Vec<&Organization> = ix
            .list()
            .iter()
            .filter(enabled)
            .filter(|o| o.domains.iter().any(|x| same_domain(d, x)))
            .collect();
        by_domain(&owners, Some(d))
    };
    let Some(u) = user else {
        return owner();
    };
    let orgs = mine(u);
    match orgs.as_slice() {
        [only] => Some(only),
        [] => owner(),
        _ => orgs
            .iter()
            .find(|o| u.managed.contains(&o.id))
            .copied()
            .or_else(|| by_domain(&orgs, email_domain)),
    }
}

fn idp_setting<'a>(idp: &'a Value, key: &str) -> Option<&'a str> {
    idp.get("config")?.get(key)?.as_str()
}

/// `tryRedirectBroker`: the identity provider (alias) a user of `org` logs in with instead of
/// a password: the user's own provider when they are linked to exactly one provider of an
/// organization (`resolveHomeBroker`), else a provider of `org` set to redirect on an e-mail
/// match whose domain is `domain` (or `ANY` of the organization's domains). Never for a user
/// with a password or passkey: they choose how to log in.
pub fn redirect_target(
    org: &Organization,
    idps: &[Value],
    links: &[(String, String)],
    user: Option<&UserRepresentation>,
    domain: Option<&str>,
) -> Option<String> {
    if let Some(u) = user {
        let first_factor = u.credentials.iter().flatten().any(|c| {
            matches!(
                c.kind.as_deref(),
                Some("password" | "webauthn-passwordless")
            )
        });
        if first_factor {
            return None;
        }
        let home: Vec<&str> = u
            .federated_identities
            .iter()
            .flatten()
            .filter_map(|f| f.get("identityProvider").and_then(Value::as_str))
            .filter(|alias| links.iter().any(|(a, _)| a == alias))
            .collect();
        if let [one] = home.as_slice() {
            return Some((*one).to_string());
        }
    }
    let domain = domain.map(str::to_string).or_else(|| {
        user.and_then(|u| u.email.as_deref())
            .and_then(email_domain)
            .map(str::to_string)
    })?;
    let linked = || {
        idps.iter()
            .filter(|p| {
                let alias = p.get("alias").and_then(Value::as_str).unwrap_or_default();
                links.iter().any(|(a, o)| a == alias && *o == org.id)
            })
            .filter(|p| idp_setting(p, IDP_REDIRECT_EMAIL_MATCHES) == Some("true"))
    };
    let alias = |p: &Value| p.get("alias").and_then(Value::as_str).map(str::to_string);
    if let Some(p) = linked()
        .find(|p| idp_setting(p, IDP_DOMAIN).is_some_and(|d| d.eq_ignore_ascii_case(&domain)))
    {
        return alias(p);
    }
    linked()
        .filter(|p| idp_setting(p, IDP_DOMAIN) == Some(ANY_DOMAIN))
        .find(|_| org.domains.contains(&domain))
        .and_then(alias)
}

/// Runs the step: the first visit (`posted` none) and the posts of its pages.
pub async fn authenticate(
    state: &AppState,
    snap: &RealmSnapshot,
    pending: &mut PendingLogin,
    a: &Authenticator,
    posted: Option<Fields<'_>>,
) -> OrgOut {
    let ix = &snap.index.organizations;
    if !ix.present() {
        return OrgOut::Attempted;
    }
    let Some(f) = posted else {
        let scope = requested_scope(ix, pending.request.scope.as_deref());
        let known = resolve(ix, pending.organization.as_deref(), scope, None, None);
        let hint = pending.request.login_hint.clone();
        if hint.is_none() && known.is_none() {
            if pending.flow.user.is_some() {
                // Re-authentication of the session's user (`prompt=login`, `max_age`): no
                // organization to process.
                return OrgOut::Attempted;
            }
            return OrgOut::AskUsername {
                username: None,
                error: None,
            };
        }
        if let Some(o) = known {
            pending.organization = Some(o.id.clone());
        }
        return action(state, snap, pending, a, hint.as_deref(), None).await;
    };
    let username = f("username").map(str::trim).filter(|s| !s.is_empty());
    let chosen = f(FIELD).filter(|s| !s.is_empty());
    if pending.flow.user.is_none() && username.is_none() {
        return OrgOut::AskUsername {
            username: None,
            error: Some(INVALID_USERNAME.into()),
        };
    }
    action(state, snap, pending, a, username, chosen).await
}

async fn action(
    state: &AppState,
    snap: &RealmSnapshot,
    pending: &mut PendingLogin,
    a: &Authenticator,
    username: Option<&str>,
    chosen: Option<&str>,
) -> OrgOut {
    let store = state.store.as_ref();
    let ix = &snap.index.organizations;
    // `resolveUser`: the user identified before, or the one the username names.
    if pending.flow.user.is_none() {
        if let Some(name) = username {
            let found = match find_user(store, snap, name).await {
                Ok(found) => found,
                Err(_) => return OrgOut::Answer(internal_error()),
            };
            pending.organization = None;
            pending.flow.user = found.map(|r| r.id);
        }
    }
    let user = match pending.flow.user.as_deref() {
        Some(id) => match store.user_by_id(&snap.id, id).await {
            Ok(Some(row)) => match parse_user(&row) {
                Ok(u) => Some((row.id, u)),
                Err(_) => return OrgOut::Answer(internal_error()),
            },
            Ok(None) => None,
            Err(_) => return OrgOut::Answer(internal_error()),
        },
        None => None,
    };
    let (memberships, managed) = match &user {
        Some((id, _)) => match memberships_of(state, snap, id).await {
            Ok(m) => m,
            Err(()) => return OrgOut::Answer(internal_error()),
        },
        None => (Vec::new(), Vec::new()),
    };
    let member = user.as_ref().map(|(_, u)| Member {
        memberships: &memberships,
        managed: &managed,
        email: u.email.as_deref(),
    });
    let domain = username.and_then(email_domain);
    let scope = requested_scope(ix, pending.request.scope.as_deref());
    let org = match chosen {
        // The selection page's answer: one of the user's organizations.
        Some(alias) => match ix.by_alias(alias).filter(|o| memberships.contains(&o.id)) {
            Some(o) => {
                pending.selected_organization = Some(o.id.clone());
                Some(o)
            }
            None => None,
        },
        None => resolve(
            ix,
            pending.organization.as_deref(),
            scope,
            member.as_ref(),
            domain,
        ),
    };
    let requires_membership = a.setting(REQUIRES_MEMBERSHIP) == Some("true");
    let Some(org) = org else {
        // `shouldUserSelectOrganization`: `scope=organization`, several organizations, none
        // chosen yet.
        if user.is_some() && scope == Some(OrgScope::Any) && pending.selected_organization.is_none()
        {
            let mine: Vec<(String, String)> = ix
                .list()
                .iter()
                .filter(|o| o.enabled && memberships.contains(&o.id))
                .map(|o| (o.alias.clone(), o.name.clone()))
                .collect();
            if mine.len() > 1 {
                pending.organization = None;
                return OrgOut::Select(mine);
            }
        }
        if let (true, Some(_)) = (requires_membership, &user) {
            let named = match scope {
                Some(OrgScope::Single(i)) => ix.list().get(i),
                _ => None,
            };
            if named.is_none_or(|o| !memberships.contains(&o.id)) {
                return OrgOut::Answer(not_a_member(named));
            }
        }
        pending.organization = None;
        // `attempted(context, username)`: the next form shows the username given here.
        pending.attempted_username = username.map(str::to_string);
        return OrgOut::Attempted;
    };
    pending.organization = Some(org.id.clone());
    if requires_membership && user.is_some() && !memberships.contains(&org.id) {
        return OrgOut::Answer(not_a_member(Some(org)));
    }
    let links = match store.identity_provider_links(&snap.id).await {
        Ok(l) => l,
        Err(_) => return OrgOut::Answer(internal_error()),
    };
    let idps = crate::realm::identity_providers(&snap.rep);
    let rep = user.as_ref().map(|(_, u)| u);
    if let Some(alias) = redirect_target(org, idps, &links, rep, domain) {
        // `redirect(context, alias, username or e-mail)`: the name goes as `login_hint`.
        let login_hint = username
            .map(str::to_string)
            .or_else(|| rep.and_then(|u| u.email.clone()));
        return OrgOut::Broker { alias, login_hint };
    }
    let Some((_, u)) = user else {
        // `unknownUserChallenge`: the username page again.
        return OrgOut::AskUsername {
            username: username.map(str::to_string),
            error: domain.map(|_| {
                Cow::Owned(format!(
                    "Your email domain matches the {} organization but you don't have an account yet.",
                    org.name
                ))
            }),
        };
    };
    if u.enabled == Some(false) {
        return OrgOut::Answer(error_page(
            StatusCode::BAD_REQUEST,
            "Invalid username or password.",
        ));
    }
    OrgOut::Attempted
}

/// The user's organizations: (all, managed), ids.
async fn memberships_of(
    state: &AppState,
    snap: &RealmSnapshot,
    user_id: &str,
) -> Result<(Vec<String>, Vec<String>), ()> {
    let store = state.store.as_ref();
    let ids = store
        .membership_ids(&snap.id, user_id)
        .await
        .map_err(|_| ())?;
    let mut managed = Vec::new();
    if ids.len() > 1 {
        for id in &ids {
            let m = store.member(id, user_id).await.map_err(|_| ())?;
            if m.is_some_and(|m| m.membership_type == MembershipType::Managed) {
                managed.push(id.clone());
            }
        }
    }
    Ok((ids, managed))
}

/// `isMembershipRequired`'s error page (403): Keycloak's `notMemberOfOrganization` /
/// `notMemberOfAnyOrganization`.
fn not_a_member(org: Option<&Organization>) -> Response {
    let message = match org {
        Some(o) => format!("User is not a member of the organization {}", o.name),
        None => "User is not a member of any organization".to_string(),
    };
    error_page(StatusCode::FORBIDDEN, &message)
}

/// The selection page (`select-organization.ftl`): one button per organization, posting its
/// alias as `kc.org`.
pub fn render_select(
    snap: &RealmSnapshot,
    action: &str,
    session_code: &str,
    orgs: &[(String, String)],
) -> String {
    let buttons: String = orgs
        .iter()
        .map(|(alias, name)| {
            format!(
                "<li><button type=\"submit\" name=\"{FIELD}\" value=\"{}\">{}</button></li>",
                escape(alias),
                escape(name)
            )
        })
        .collect();
    let title = realm_title(snap);
    page(
        &format!("Sign in to {title}"),
        &format!(
            "<h1>Select your organization</h1><form id=\"kc-select-organization-form\" action=\"{a}\" method=\"post\">\
             <input type=\"hidden\" name=\"session_code\" value=\"{s}\"><ul>{buttons}</ul></form>",
            a = escape(action),
            s = escape(session_code),
        ),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::representation::RealmRepresentation;
    use crate::store::{OrganizationDomain, OrganizationRow};
    use serde_json::json;

    fn org(id: &str, alias: &str, domains: &[&str]) -> OrganizationRow {
        OrganizationRow {
            id: id.into(),
            name: alias.to_uppercase(),
            alias: alias.into(),
            enabled: true,
            domains: domains
                .iter()
                .map(|d| OrganizationDomain {
                    name: (*d).into(),
                    verified: false,
                })
                .collect(),
            ..OrganizationRow::default()
        }
    }

    fn index() -> Organizations {
        let rep: RealmRepresentation = serde_json::from_value(json!({
            "realm": "r", "organizationsEnabled": true
        }))
        .unwrap();
        Organizations::build(
            &rep,
            &[
                org("a", "acme", &["acme.com"]),
                org("g", "globex", &["globex.com", "*.globex.io"]),
                org("w", "wide", &["*.io"]),
            ],
        )
    }

    fn alias(o: Option<&Organization>) -> Option<&str> {
        o.map(|o| o.alias.as_str())
    }

    #[test]
    fn domains_match_exactly_or_under_a_wildcard() {
        assert!(same_domain("Acme.COM", "acme.com"));
        assert!(same_domain("eu.globex.io", "*.globex.io"));
        assert!(same_domain("globex.io", "*.globex.io"));
        assert!(!same_domain("evilglobex.io", "*.globex.io"));
        assert!(!same_domain("acme.com.evil", "acme.com"));
        assert_eq!(email_domain("bob@acme.com"), Some("acme.com"));
        assert_eq!(email_domain("bob"), None);
    }

    #[test]
    fn an_unknown_user_resolves_by_the_typed_domain_only() {
        let ix = index();
        assert_eq!(
            alias(resolve(&ix, None, None, None, Some("ACME.com"))),
            Some("acme")
        );
        assert_eq!(
            alias(resolve(&ix, None, None, None, Some("other.com"))),
            None
        );
        assert_eq!(alias(resolve(&ix, None, None, None, None)), None);
    }

    #[test]
    fn a_member_resolves_to_the_only_organization_or_the_managed_one_or_by_domain() {
        let ix = index();
        let one = ["a".to_string()];
        let m = Member {
            memberships: &one,
            managed: &[],
            email: Some("bob@elsewhere.org"),
        };
        assert_eq!(
            alias(resolve(&ix, None, None, Some(&m), None)),
            Some("acme")
        );
        let two = ["a".to_string(), "g".to_string()];
        let m = Member {
            memberships: &two,
            managed: &[],
            email: Some("bob@x.globex.io"),
        };
        assert_eq!(
            alias(resolve(&ix, None, None, Some(&m), None)),
            Some("globex")
        );
        let managed = ["a".to_string()];
        let m = Member {
            memberships: &two,
            managed: &managed,
            email: Some("bob@x.globex.io"),
        };
        assert_eq!(
            alias(resolve(&ix, None, None, Some(&m), None)),
            Some("acme")
        );
        // `scope=organization` with two organizations and no domain match: none, so the user
        // chooses.
        let m = Member {
            memberships: &two,
            managed: &[],
            email: Some("bob@elsewhere.org"),
        };
        assert_eq!(
            alias(resolve(&ix, None, Some(OrgScope::Any), Some(&m), None)),
            None
        );
    }

    #[test]
    fn a_noted_or_named_organization_holds_for_its_members_only() {
        let ix = index();
        let one = ["a".to_string()];
        let m = Member {
            memberships: &one,
            managed: &[],
            email: None,
        };
        assert_eq!(
            alias(resolve(&ix, Some("a"), None, Some(&m), None)),
            Some("acme")
        );
        assert_eq!(alias(resolve(&ix, Some("g"), None, Some(&m), None)), None);
        assert_eq!(
            alias(resolve(&ix, None, Some(OrgScope::Single(1)), None, None)),
            Some("globex")
        );
    }

    #[test]
    fn the_most_specific_domain_wins() {
        let ix = index();
        let all = ["g".to_string(), "w".to_string()];
        let m = Member {
            memberships: &all,
            managed: &[],
            email: Some("a@eu.globex.io"),
        };
        assert_eq!(
            alias(resolve(&ix, None, None, Some(&m), None)),
            Some("globex")
        );
    }

    fn user(creds: &[&str], idps: &[&str], email: &str) -> UserRepresentation {
        serde_json::from_value(json!({
            "username": "u", "email": email,
            "credentials": creds.iter().map(|t| json!({"type": t})).collect::<Vec<_>>(),
            "federatedIdentities": idps.iter().map(|a| json!({"identityProvider": a, "userId": "1", "userName": "u"})).collect::<Vec<_>>(),
        }))
        .unwrap()
    }

    #[test]
    fn redirects_only_users_without_a_password_to_a_matching_provider() {
        let ix = index();
        let acme = ix.by_alias("acme").unwrap();
        let idps = vec![
            json!({"alias": "acme-sso", "config": {IDP_DOMAIN: "acme.com", IDP_REDIRECT_EMAIL_MATCHES: "true"}}),
            json!({"alias": "acme-any", "config": {IDP_DOMAIN: "ANY", IDP_REDIRECT_EMAIL_MATCHES: "true"}}),
            json!({"alias": "quiet", "config": {IDP_DOMAIN: "acme.com"}}),
        ];
        let links = vec![
            ("acme-sso".to_string(), "a".to_string()),
            ("acme-any".to_string(), "a".to_string()),
            ("quiet".to_string(), "a".to_string()),
        ];
        let target = |u: Option<&UserRepresentation>, d: Option<&str>| {
            redirect_target(acme, &idps, &links, u, d)
        };
        assert_eq!(target(None, Some("acme.com")).as_deref(), Some("acme-sso"));
        assert_eq!(target(None, Some("other.com")), None);
        let with_password = user(&["password"], &[], "bob@acme.com");
        assert_eq!(target(Some(&with_password), Some("acme.com")), None);
        let linked = user(&[], &["acme-any"], "bob@elsewhere.org");
        assert_eq!(target(Some(&linked), None).as_deref(), Some("acme-any"));
        let plain = user(&[], &[], "bob@acme.com");
        assert_eq!(target(Some(&plain), None).as_deref(), Some("acme-sso"));
        // Unlinked, the provider counts for nothing.
        assert_eq!(
            redirect_target(acme, &idps, &[], None, Some("acme.com")),
            None
        );
    }
}

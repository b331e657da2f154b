//! The first broker login flow run as data (Keycloak's `firstBrokerLoginFlow`): the review of
//! the brokered profile, the "Account already exists" page, re-authentication of the existing
//! user before the link, `idp-auto-link` in a flow of the realm's own, and the lookup of the
//! linked user by the provider's identity. The two servers are `brokering`'s.

use serde_json::{json, Value};

use crate::brokering::{
    auth_url, location, redeem, start_custom, to_provider, upstream_login, users_named, Pair,
    CALLBACK,
};
use crate::support::*;

async fn links_of(p: &Pair, admin: &str, user_id: &str) -> Value {
    let (s, links, _) = call(
        &p.down,
        "GET",
        &format!("/admin/realms/downstream/users/{user_id}/federated-identity"),
        Some(admin),
        None,
    )
    .await;
    assert_eq!(s, 200, "{links}");
    links
}

fn user_id(users: &[Value]) -> String {
    users[0]["id"].as_str().unwrap().to_string()
}

/// The client's tokens of a login that ended at the client's redirect `loc`.
async fn tokens_at(p: &Pair, loc: &str, verifier: &str) -> Value {
    assert!(loc.starts_with(&format!("{CALLBACK}?")), "{loc}");
    let q = query_of(loc);
    assert_eq!(q["state"], "client-state");
    redeem(p, &q["code"], verifier).await
}

#[tokio::test]
async fn review_profile_asks_for_what_the_provider_did_not_give() {
    let p = start_custom(Backend::Sqlite, |_| {}).await.unwrap();
    let b = browser();
    let (verifier, challenge) = pkce();
    let upstream = to_provider(&p, &b, &auth_url(&p.down, &challenge, "")).await;
    // erin has no last name upstream: the realm's user profile requires one.
    let back = upstream_login(&p, &b, &upstream, "erin", "erin-pw").await;
    let (s, loc, html) = location(&b, &back).await;
    assert_eq!((s, loc.as_str()), (200, ""), "{html}");
    assert!(html.contains("Update Account Information"), "{html}");
    assert!(html.contains("value=\"erin@up.example\""), "{html}");
    assert!(html.contains("value=\"Erin\""), "{html}");
    assert!(
        form_action(&html).starts_with("/realms/downstream/login-actions/first-broker-login?"),
        "{html}"
    );
    let admin = admin_token(&p.down).await;
    assert!(users_named(&p, &admin, "erin").await.is_empty(), "not yet");

    // Still no last name: the page again, with the field's message.
    let fields = [
        ("username", "erin"),
        ("email", "erin@up.example"),
        ("firstName", "Erin"),
        ("lastName", ""),
    ];
    let (s, again) = post_page(&b, &p.down, &html, &fields).await;
    assert_eq!(s, 200, "{again}");
    assert!(again.contains("Please specify this field."), "{again}");
    assert!(users_named(&p, &admin, "erin").await.is_empty());
    // The confirm page's choice posted to the review page: the review again, nothing created.
    let (s, still) = post_page(&b, &p.down, &again, &[("submitAction", "linkAccount")]).await;
    assert_eq!(s, 200, "{still}");
    assert!(still.contains("Update Account Information"), "{still}");
    assert!(users_named(&p, &admin, "erin").await.is_empty());

    let (s, loc) = post_page(
        &b,
        &p.down,
        &again,
        &[
            ("username", "erin"),
            ("email", "erin@up.example"),
            ("firstName", "Erin"),
            ("lastName", "Reviewed"),
        ],
    )
    .await;
    assert_eq!(s, 302, "{loc}");
    let tokens = tokens_at(&p, &loc, &verifier).await;
    let claims = payload(tokens["access_token"].as_str().unwrap());
    assert_eq!(claims["preferred_username"], "erin");

    // The user has what was entered, and the link.
    let users = users_named(&p, &admin, "erin").await;
    assert_eq!(users.len(), 1, "{users:?}");
    assert_eq!(users[0]["lastName"], "Reviewed");
    assert_eq!(users[0]["firstName"], "Erin");
    assert_eq!(users[0]["id"], claims["sub"]);
    let links = links_of(&p, &admin, &user_id(&users)).await;
    assert_eq!(links[0]["identityProvider"], "up");
    assert_eq!(links[0]["userName"], "erin");

    // Keycloak's events: the flow's start (no user), the review, the registration.
    let events = "/admin/realms/downstream/events";
    let first = events_at_least(
        &p.down,
        &admin,
        events,
        "?type=IDENTITY_PROVIDER_FIRST_LOGIN",
        1,
    )
    .await;
    assert!(first[0]["userId"].is_null(), "{first:?}");
    let review = events_at_least(&p.down, &admin, events, "?type=UPDATE_PROFILE", 1).await;
    assert_eq!(review[0]["details"]["context"], "IDP_REVIEW");
    assert_eq!(review[0]["details"]["identity_provider"], "up");
    let register = events_at_least(&p.down, &admin, events, "?type=REGISTER", 1).await;
    assert_eq!(register[0]["userId"], claims["sub"]);
}

/// dave's e-mail upstream is local-dave's: the confirm-link page, "Add to existing account",
/// local-dave's password (a wrong one first), then the link.
async fn confirm_link_and_reauthentication(backend: Backend) {
    let Some(p) = start_custom(backend, |_| {}).await else {
        return;
    };
    let admin = admin_token(&p.down).await;
    let local = user_id(&users_named(&p, &admin, "local-dave").await);
    let b = browser();
    let (verifier, challenge) = pkce();
    let upstream = to_provider(&p, &b, &auth_url(&p.down, &challenge, "")).await;
    let back = upstream_login(&p, &b, &upstream, "dave", "dave-pw").await;
    let (s, _, confirm) = location(&b, &back).await;
    assert_eq!(s, 200, "{confirm}");
    assert!(confirm.contains("Account already exists"), "{confirm}");
    assert!(confirm.contains("value=\"linkAccount\""), "{confirm}");
    // The profile review ran (nothing missing): its button is offered.
    assert!(confirm.contains("value=\"updateProfile\""), "{confirm}");

    // The choice from another browser (no flow cookie): refused, nothing changes.
    let code = form_field(&confirm, "session_code").unwrap();
    let (s, body, _) = post_form(
        &p.down.url(&form_action(&confirm)),
        None,
        &[
            ("session_code", code.as_str()),
            ("submitAction", "linkAccount"),
        ],
    )
    .await;
    assert_eq!(s, 400, "{body}");
    assert_eq!(links_of(&p, &admin, &local).await, json!([]));

    // An unknown choice: refused.
    let (s, body) = post_page(&b, &p.down, &confirm, &[("submitAction", "nope")]).await;
    assert_eq!(s, 400, "{body}");

    // "Add to existing account": the existing user's password form.
    let b = browser();
    let (s, _, confirm) = {
        let upstream = to_provider(&p, &b, &auth_url(&p.down, &challenge, "")).await;
        let back = upstream_login(&p, &b, &upstream, "dave", "dave-pw").await;
        location(&b, &back).await
    };
    assert_eq!(s, 200, "{confirm}");
    let (s, reauth) = post_page(&b, &p.down, &confirm, &[("submitAction", "linkAccount")]).await;
    assert_eq!(s, 200, "{reauth}");
    assert!(
        reauth.contains("Authenticate to link your account with up"),
        "{reauth}"
    );
    assert!(reauth.contains("value=\"local-dave\""), "{reauth}");

    // A wrong password: the form again, no link. The user name posted is not the one checked.
    let (s, again) = post_page(
        &b,
        &p.down,
        &reauth,
        &[("username", "local-dave"), ("password", "wrong")],
    )
    .await;
    assert_eq!(s, 200, "{again}");
    assert!(again.contains("Invalid username or password."), "{again}");
    assert_eq!(links_of(&p, &admin, &local).await, json!([]));
    let (s, again) = post_page(
        &b,
        &p.down,
        &again,
        &[("username", "alice"), ("password", "alice-pw")],
    )
    .await;
    assert_eq!(s, 200, "{again}");
    assert_eq!(links_of(&p, &admin, &local).await, json!([]));
    let errors = events_at_least(
        &p.down,
        &admin,
        "/admin/realms/downstream/events",
        "?type=IDENTITY_PROVIDER_FIRST_LOGIN_ERROR",
        1,
    )
    .await;
    assert!(
        errors
            .iter()
            .any(|e| e["error"] == "invalid_user_credentials" && e["userId"] == local.as_str()),
        "{errors:?}"
    );

    // The right password: linked, logged in as local-dave.
    let (s, loc) = post_page(
        &b,
        &p.down,
        &again,
        &[("username", "local-dave"), ("password", "local-pw")],
    )
    .await;
    assert_eq!(s, 302, "{loc}");
    let tokens = tokens_at(&p, &loc, &verifier).await;
    assert_eq!(
        payload(tokens["access_token"].as_str().unwrap())["sub"],
        local.as_str()
    );
    let up_admin = admin_token(&p.up).await;
    let (_, up_users, _) = call(
        &p.up,
        "GET",
        "/admin/realms/upstream/users?username=dave&exact=true",
        Some(&up_admin),
        None,
    )
    .await;
    let dave_upstream = up_users[0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        links_of(&p, &admin, &local).await,
        json!([{"identityProvider": "up", "userId": dave_upstream, "userName": "dave"}])
    );
    assert!(
        users_named(&p, &admin, "dave").await.is_empty(),
        "no user created"
    );
    let link = events_at_least(
        &p.down,
        &admin,
        "/admin/realms/downstream/events",
        "?type=FEDERATED_IDENTITY_LINK",
        1,
    )
    .await;
    assert_eq!(link[0]["userId"], local.as_str());
    assert_eq!(link[0]["details"]["identity_provider"], "up");

    // The next login through the provider finds local-dave by the link (whose user name is not
    // the provider's): no page in between.
    let b = browser();
    let (verifier, challenge) = pkce();
    let upstream = to_provider(&p, &b, &auth_url(&p.down, &challenge, "")).await;
    let back = upstream_login(&p, &b, &upstream, "dave", "dave-pw").await;
    let (s, loc, body) = location(&b, &back).await;
    assert_eq!(s, 302, "{body}");
    let tokens = tokens_at(&p, &loc, &verifier).await;
    assert_eq!(
        payload(tokens["access_token"].as_str().unwrap())["sub"],
        local.as_str()
    );
}

#[tokio::test]
async fn confirm_link_then_the_existing_users_password_links_the_account() {
    confirm_link_and_reauthentication(Backend::Sqlite).await;
}

#[tokio::test]
async fn confirm_link_then_the_existing_users_password_links_the_account_on_postgres() {
    confirm_link_and_reauthentication(Backend::Postgres).await;
}

#[tokio::test]
async fn review_profile_from_the_confirm_page_lets_the_user_choose_other_data() {
    let p = start_custom(Backend::Sqlite, |_| {}).await.unwrap();
    let b = browser();
    let (verifier, challenge) = pkce();
    let upstream = to_provider(&p, &b, &auth_url(&p.down, &challenge, "")).await;
    let back = upstream_login(&p, &b, &upstream, "dave", "dave-pw").await;
    let (s, _, confirm) = location(&b, &back).await;
    assert_eq!(s, 200, "{confirm}");
    // "Review profile": the review page, whatever the profile.
    let (s, review) = post_page(&b, &p.down, &confirm, &[("submitAction", "updateProfile")]).await;
    assert_eq!(s, 200, "{review}");
    assert!(review.contains("Update Account Information"), "{review}");
    assert!(review.contains("value=\"taken@example.com\""), "{review}");
    // Another e-mail: no one has it, the user is created.
    let (s, loc) = post_page(
        &b,
        &p.down,
        &review,
        &[
            ("username", "dave"),
            ("email", "dave@elsewhere.example"),
            ("firstName", "Dave"),
            ("lastName", "Upstream"),
        ],
    )
    .await;
    assert_eq!(s, 302, "{loc}");
    let tokens = tokens_at(&p, &loc, &verifier).await;
    let admin = admin_token(&p.down).await;
    let dave = users_named(&p, &admin, "dave").await;
    assert_eq!(dave.len(), 1);
    assert_eq!(dave[0]["email"], "dave@elsewhere.example");
    assert_eq!(
        payload(tokens["access_token"].as_str().unwrap())["sub"],
        dave[0]["id"]
    );
    let local = user_id(&users_named(&p, &admin, "local-dave").await);
    assert_eq!(links_of(&p, &admin, &local).await, json!([]));
}

/// A first broker login flow of the realm's own: a unique user is created, else the existing
/// one is linked without asking (`idp-auto-link`), chosen by the provider's
/// `firstBrokerLoginFlowAlias`.
fn auto_link_realm(realm: &mut Value) {
    realm["authenticationFlows"] = json!([
        {"alias": "plain", "providerId": "basic-flow", "topLevel": true, "builtIn": false,
         "authenticationExecutions": [
            {"authenticator": "auth-username-password-form", "requirement": "REQUIRED", "priority": 10, "authenticatorFlow": false}
         ]},
        {"alias": "auto link", "providerId": "basic-flow", "topLevel": true, "builtIn": false,
         "authenticationExecutions": [
            {"authenticator": "idp-create-user-if-unique", "requirement": "ALTERNATIVE", "priority": 10, "authenticatorFlow": false},
            {"authenticator": "idp-auto-link", "requirement": "ALTERNATIVE", "priority": 20, "authenticatorFlow": false}
         ]}
    ]);
    for binding in [
        "browserFlow",
        "directGrantFlow",
        "registrationFlow",
        "resetCredentialsFlow",
        "clientAuthenticationFlow",
        "dockerAuthenticationFlow",
    ] {
        realm[binding] = json!("plain");
    }
    realm["firstBrokerLoginFlow"] = json!("plain");
    realm["identityProviders"][0]["firstBrokerLoginFlowAlias"] = json!("auto link");
}

#[tokio::test]
async fn a_custom_flow_with_auto_link_links_the_existing_user_silently() {
    let p = start_custom(Backend::Sqlite, auto_link_realm)
        .await
        .unwrap();
    let admin = admin_token(&p.down).await;
    let local = user_id(&users_named(&p, &admin, "local-dave").await);
    let b = browser();
    let (verifier, challenge) = pkce();
    let upstream = to_provider(&p, &b, &auth_url(&p.down, &challenge, "")).await;
    let back = upstream_login(&p, &b, &upstream, "dave", "dave-pw").await;
    let (s, loc, body) = location(&b, &back).await;
    assert_eq!(s, 302, "{body}");
    let tokens = tokens_at(&p, &loc, &verifier).await;
    assert_eq!(
        payload(tokens["access_token"].as_str().unwrap())["sub"],
        local.as_str()
    );
    let links = links_of(&p, &admin, &local).await;
    assert_eq!(links[0]["identityProvider"], "up");
    assert_eq!(links[0]["userName"], "dave");
    assert!(users_named(&p, &admin, "dave").await.is_empty());
    // alice has no twin: created by the same flow.
    let b = browser();
    let (verifier, challenge) = pkce();
    let upstream = to_provider(&p, &b, &auth_url(&p.down, &challenge, "")).await;
    let back = upstream_login(&p, &b, &upstream, "alice", "alice-pw").await;
    let (s, loc, body) = location(&b, &back).await;
    assert_eq!(s, 302, "{body}");
    tokens_at(&p, &loc, &verifier).await;
    assert_eq!(users_named(&p, &admin, "alice").await.len(), 1);
}

#[tokio::test]
async fn a_flow_that_only_links_refuses_an_identity_without_a_user() {
    let p = start_custom(Backend::Sqlite, |realm| {
        auto_link_realm(realm);
        realm["authenticationFlows"][1]["authenticationExecutions"] = json!([
            {"authenticator": "idp-detect-existing-broker-user", "requirement": "REQUIRED", "priority": 10, "authenticatorFlow": false},
            {"authenticator": "idp-auto-link", "requirement": "REQUIRED", "priority": 20, "authenticatorFlow": false}
        ]);
    })
    .await
    .unwrap();
    let b = browser();
    let (_, challenge) = pkce();
    let upstream = to_provider(&p, &b, &auth_url(&p.down, &challenge, "")).await;
    let back = upstream_login(&p, &b, &upstream, "alice", "alice-pw").await;
    let (s, loc, body) = location(&b, &back).await;
    assert_eq!((s, loc.as_str()), (401, ""), "{body}");
    assert!(
        body.contains("User alice authenticated with identity provider up does not exist."),
        "{body}"
    );
    let admin = admin_token(&p.down).await;
    assert!(users_named(&p, &admin, "alice").await.is_empty());
}

#[tokio::test]
async fn re_authentication_without_an_existing_user_is_refused_and_links_nothing() {
    // A custom flow whose first step is the re-authentication form: no earlier step found a
    // user, so no one may claim the identity by posting a password (Keycloak fails the flow).
    let p = start_custom(Backend::Sqlite, |realm| {
        auto_link_realm(realm);
        realm["authenticationFlows"][1]["authenticationExecutions"] = json!([
            {"authenticator": "idp-username-password-form", "requirement": "REQUIRED", "priority": 10, "authenticatorFlow": false}
        ]);
    })
    .await
    .unwrap();
    let b = browser();
    let (_, challenge) = pkce();
    let upstream = to_provider(&p, &b, &auth_url(&p.down, &challenge, "")).await;
    let back = upstream_login(&p, &b, &upstream, "alice", "alice-pw").await;
    let (s, _, body) = location(&b, &back).await;
    assert_eq!(s, 400, "{body}");
    assert!(!body.contains("name=\"password\""), "{body}");
    let admin = admin_token(&p.down).await;
    assert!(users_named(&p, &admin, "alice").await.is_empty());
    let local = user_id(&users_named(&p, &admin, "local-dave").await);
    assert!(links_of(&p, &admin, &local)
        .await
        .as_array()
        .is_none_or(|l| l.is_empty()));
}

#[tokio::test]
async fn an_imported_link_finds_its_user_whatever_the_user_name() {
    // local-frank is linked (in the realm file) to frank's upstream id: the provider's user
    // name is not local-frank's, and another user carries the provider's user name.
    let p = start_custom(Backend::Sqlite, |realm| {
        let users = realm["users"].as_array_mut().unwrap();
        users.push(json!({"username": "local-frank", "email": "f@down.example", "firstName": "F", "lastName": "L", "enabled": true,
            "federatedIdentities": [{"identityProvider": "up", "userId": "frank-at-upstream", "userName": "frank"}]}));
        users.push(json!({"username": "frank", "email": "other-frank@down.example", "firstName": "Other", "lastName": "Frank", "enabled": true}));
    })
    .await
    .unwrap();
    let admin = admin_token(&p.down).await;
    let local = user_id(&users_named(&p, &admin, "local-frank").await);
    let b = browser();
    let (verifier, challenge) = pkce();
    let upstream = to_provider(&p, &b, &auth_url(&p.down, &challenge, "")).await;
    let back = upstream_login(&p, &b, &upstream, "frank", "frank-pw").await;
    let (s, loc, body) = location(&b, &back).await;
    assert_eq!(s, 302, "{body}");
    let tokens = tokens_at(&p, &loc, &verifier).await;
    assert_eq!(
        payload(tokens["access_token"].as_str().unwrap())["sub"],
        local.as_str()
    );

    // The link removed through the Admin API: the next login no longer finds local-frank.
    let (s, body, _) = call(
        &p.down,
        "DELETE",
        &format!("/admin/realms/downstream/users/{local}/federated-identity/up"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 204, "{body}");
    let b = browser();
    let (_, challenge) = pkce();
    let upstream = to_provider(&p, &b, &auth_url(&p.down, &challenge, "")).await;
    let back = upstream_login(&p, &b, &upstream, "frank", "frank-pw").await;
    let (s, _, page) = location(&b, &back).await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("Account already exists"), "{page}");

    // Linked again through the Admin API, to the other user: that user logs in next. One
    // provider identity links one user: linking it to local-frank as well is a conflict.
    let frank = user_id(&users_named(&p, &admin, "frank").await);
    let link =
        json!({"identityProvider": "up", "userId": "frank-at-upstream", "userName": "frank"});
    let (s, body, _) = call(
        &p.down,
        "POST",
        &format!("/admin/realms/downstream/users/{frank}/federated-identity/up"),
        Some(&admin),
        Some(link.clone()),
    )
    .await;
    assert_eq!(s, 204, "{body}");
    let (s, body, _) = call(
        &p.down,
        "POST",
        &format!("/admin/realms/downstream/users/{local}/federated-identity/up"),
        Some(&admin),
        Some(link),
    )
    .await;
    assert_eq!(s, 409, "{body}");
    assert_eq!(links_of(&p, &admin, &local).await, json!([]));
    let b = browser();
    let (verifier, challenge) = pkce();
    let upstream = to_provider(&p, &b, &auth_url(&p.down, &challenge, "")).await;
    let back = upstream_login(&p, &b, &upstream, "frank", "frank-pw").await;
    let (s, loc, body) = location(&b, &back).await;
    assert_eq!(s, 302, "{body}");
    let tokens = tokens_at(&p, &loc, &verifier).await;
    assert_eq!(
        payload(tokens["access_token"].as_str().unwrap())["sub"],
        frank.as_str()
    );
}

#[tokio::test]
async fn first_broker_login_posts_without_a_first_broker_login_are_refused() {
    let p = start_custom(Backend::Sqlite, |_| {}).await.unwrap();
    let b = browser();
    let (_, challenge) = pkce();
    // A login in progress at the login page (no identity provider yet).
    let (s, html) = get_page(&b, &auth_url(&p.down, &challenge, "")).await;
    assert_eq!(s, 200);
    let code = form_field(&html, "session_code").unwrap();
    let r = b
        .post(
            p.down
                .url("/realms/downstream/login-actions/first-broker-login"),
        )
        .form(&[
            ("session_code", code.as_str()),
            ("submitAction", "linkAccount"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let admin = admin_token(&p.down).await;
    let local = user_id(&users_named(&p, &admin, "local-dave").await);
    assert_eq!(links_of(&p, &admin, &local).await, json!([]));
}

// --- `idp-email-verification`: the "link your account" mail -------------------------------

/// The pair with an SMTP sink as the downstream realm's mail server; `None` (skipped) without
/// the sink's venv.
async fn start_with_mail() -> Option<(Pair, SmtpSink)> {
    let sink = SmtpSink::start(None)?;
    let settings = sink.settings("noreply@down.example");
    let p = start_custom(Backend::Sqlite, |realm| realm["smtpServer"] = settings)
        .await
        .unwrap();
    Some((p, sink))
}

/// dave (whose e-mail upstream is local-dave's) logs in through the provider in `b` and
/// chooses "Add to existing account": the e-mail verification page.
async fn to_link_email_page(p: &Pair, b: &reqwest::Client, challenge: &str) -> String {
    let upstream = to_provider(p, b, &auth_url(&p.down, challenge, "")).await;
    let back = upstream_login(p, b, &upstream, "dave", "dave-pw").await;
    let (s, _, confirm) = location(b, &back).await;
    assert_eq!(s, 200, "{confirm}");
    assert!(confirm.contains("Account already exists"), "{confirm}");
    let (s, page) = post_page(b, &p.down, &confirm, &[("submitAction", "linkAccount")]).await;
    assert_eq!(s, 200, "{page}");
    assert!(
        page.contains("An email with instructions to link up account dave with your downstream account has been sent to you."),
        "{page}"
    );
    page
}

/// The page's "Click here" link (`kc-resend` or `kc-continue`), as a path.
fn page_link(html: &str, id: &str) -> String {
    let needle = format!("id=\"{id}\" href=\"");
    let start = html.find(&needle).unwrap() + needle.len();
    let link = html[start..start + html[start..].find('"').unwrap()].replace("&amp;", "&");
    link[link.find("/realms/").unwrap()..].to_string()
}

/// The mail's link as a path of the downstream server.
fn link_path(mail: &Value) -> String {
    let link = action_link(mail);
    link[link.find("/realms/").unwrap()..].to_string()
}

/// Opens the mail's link in `b` (the confirmation page), then posts its button: status, and
/// the redirect location or else the body.
async fn open_link(p: &Pair, b: &reqwest::Client, path: &str) -> (u16, String) {
    let (s, confirm) = get_page(b, &p.down.url(path)).await;
    assert_eq!(s, 200, "{confirm}");
    assert!(
        confirm.contains(
            "Confirm linking the account dave of identity provider up with your account."
        ),
        "{confirm}"
    );
    let key = form_field(&confirm, "key").unwrap();
    post_key(p, b, &confirm, &key).await
}

async fn post_key(p: &Pair, b: &reqwest::Client, confirm: &str, key: &str) -> (u16, String) {
    let r = b
        .post(p.down.url(&form_action(confirm)))
        .form(&[("key", key)])
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let loc = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string());
    let body = r.text().await.unwrap();
    (status, loc.unwrap_or(body))
}

async fn user_by_id(p: &Pair, admin: &str, id: &str) -> Value {
    let (s, u, _) = call(
        &p.down,
        "GET",
        &format!("/admin/realms/downstream/users/{id}"),
        Some(admin),
        None,
    )
    .await;
    assert_eq!(s, 200, "{u}");
    u
}

const EVENTS: &str = "/admin/realms/downstream/events";

#[tokio::test]
async fn email_verification_links_the_existing_user_in_the_same_browser() {
    let Some((p, sink)) = start_with_mail().await else {
        return;
    };
    let admin = admin_token(&p.down).await;
    let local = user_id(&users_named(&p, &admin, "local-dave").await);
    assert_eq!(user_by_id(&p, &admin, &local).await["emailVerified"], false);
    let b = browser();
    let (verifier, challenge) = pkce();
    let page = to_link_email_page(&p, &b, &challenge).await;
    assert!(page.contains("Link up"), "{page}");

    // Keycloak's mail to the existing user.
    let mail = sink.wait_for(1).await.remove(0);
    assert_eq!(mail["rcpt_tos"], json!(["taken@example.com"]), "{mail}");
    assert_eq!(mail["headers"]["Subject"], "Link up");
    let text = mail["text"].as_str().unwrap();
    assert!(
        text.starts_with("Someone wants to link your \"downstream\" account with \"up\" account of user dave . If this was you, click the link below to link accounts"),
        "{text}"
    );
    assert!(
        text.contains("This link will expire within 5 minutes."),
        "{text}"
    );
    let path = link_path(&mail);
    let t = payload(path.split("key=").nth(1).unwrap());
    assert_eq!(t["typ"], "idp-verify-account-via-email");
    assert_eq!(t["sub"], local.as_str());
    assert_eq!(t["idpa"], "up");
    assert_eq!(t["idpu"], "dave");
    assert_eq!(t["azp"], "app");
    assert_eq!(t["eml"], "taken@example.com");
    assert_eq!(
        t["exp"].as_i64().unwrap() - t["iat"].as_i64().unwrap(),
        300,
        "the realm's user action lifespan"
    );
    let sent = events_at_least(
        &p.down,
        &admin,
        EVENTS,
        "?type=SEND_IDENTITY_PROVIDER_LINK",
        1,
    )
    .await;
    assert_eq!(sent[0]["userId"], local.as_str());
    assert_eq!(sent[0]["details"]["email"], "taken@example.com");
    assert_eq!(sent[0]["details"]["username"], "local-dave");
    assert_eq!(sent[0]["details"]["identity_provider"], "up");
    assert!(sent[0]["details"].get("auth_method").is_none(), "{sent:?}");

    // Nothing linked before the link is opened.
    assert_eq!(links_of(&p, &admin, &local).await, json!([]));

    // The page's "Click here to re-send the email": a second mail.
    let (s, again) = get_page(&b, &p.down.url(&page_link(&page, "kc-resend"))).await;
    assert_eq!(s, 200, "{again}");
    assert!(
        again.contains("An email with instructions to link up account dave"),
        "{again}"
    );
    assert_eq!(sink.wait_for(2).await.len(), 2);

    // The link in this browser: the login goes on, the identity is linked, a code.
    let (s, loc) = open_link(&p, &b, &path).await;
    assert_eq!(s, 302, "{loc}");
    let tokens = tokens_at(&p, &loc, &verifier).await;
    let claims = payload(tokens["access_token"].as_str().unwrap());
    assert_eq!(claims["sub"], local.as_str());
    assert_eq!(claims["preferred_username"], "local-dave");
    let links = links_of(&p, &admin, &local).await;
    assert_eq!(links[0]["identityProvider"], "up", "{links}");
    assert_eq!(links[0]["userName"], "dave");
    assert_eq!(user_by_id(&p, &admin, &local).await["emailVerified"], true);
    let linked = events_at_least(
        &p.down,
        &admin,
        EVENTS,
        "?type=IDENTITY_PROVIDER_LINK_ACCOUNT",
        1,
    )
    .await;
    assert_eq!(linked[0]["userId"], local.as_str());
    assert_eq!(linked[0]["clientId"], "app");
    assert_eq!(linked[0]["details"]["identity_provider"], "up");
    assert_eq!(linked[0]["details"]["identity_provider_identity"], "dave");
    assert_eq!(linked[0]["details"]["email"], "taken@example.com");
    events_at_least(&p.down, &admin, EVENTS, "?type=FEDERATED_IDENTITY_LINK", 1).await;
    assert_eq!(sink.mails().len(), 2, "no further mail");

    // Used: Keycloak's "already verified" page, and nothing more happens.
    let (s, used) = open_link(&p, &b, &path).await;
    assert_eq!(s, 200, "{used}");
    assert!(
        used.contains("Your email address has been verified already."),
        "{used}"
    );
    let errors = events_at_least(
        &p.down,
        &admin,
        EVENTS,
        "?type=IDENTITY_PROVIDER_LINK_ACCOUNT_ERROR",
        1,
    )
    .await;
    assert_eq!(errors[0]["error"], "email_already_verified");
    assert_eq!(
        links_of(&p, &admin, &local).await.as_array().unwrap().len(),
        1
    );
}

#[tokio::test]
async fn email_verification_in_another_browser_lets_the_first_one_continue() {
    let Some((p, sink)) = start_with_mail().await else {
        return;
    };
    let admin = admin_token(&p.down).await;
    let local = user_id(&users_named(&p, &admin, "local-dave").await);
    let b = browser();
    let (verifier, challenge) = pkce();
    let page = to_link_email_page(&p, &b, &challenge).await;
    let path = link_path(&sink.wait_for(1).await[0]);

    // A reload of the page (the action URL without the execution): no second mail.
    let action = page_link(&page, "kc-continue");
    let reload = &action[..action.find("&execution=").unwrap()];
    let (s, same) = get_page(&b, &p.down.url(reload)).await;
    assert_eq!(s, 200, "{same}");
    assert!(
        same.contains("An email with instructions to link up account dave"),
        "{same}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(sink.mails().len(), 1, "a reload sends nothing");

    // "Continue" before the mail's link was opened: the mail goes again, nothing linked.
    let (s, again) = get_page(&b, &p.down.url(&page_link(&page, "kc-continue"))).await;
    assert_eq!(s, 200, "{again}");
    assert_eq!(sink.wait_for(2).await.len(), 2);
    assert_eq!(links_of(&p, &admin, &local).await, json!([]));

    // The link in a fresh browser: verified, Keycloak's page; the first browser goes on.
    let other = browser();
    let (s, done) = open_link(&p, &other, &path).await;
    assert_eq!(s, 200, "{done}");
    assert!(
        done.contains("Your account was successfully linked with up account dave."),
        "{done}"
    );
    assert!(
        done.contains("Please go back to your original browser and continue there with the login."),
        "{done}"
    );
    assert_eq!(user_by_id(&p, &admin, &local).await["emailVerified"], true);
    let linked = events_at_least(
        &p.down,
        &admin,
        EVENTS,
        "?type=IDENTITY_PROVIDER_LINK_ACCOUNT",
        1,
    )
    .await;
    assert_eq!(linked[0]["userId"], local.as_str());
    // The fresh browser got no login.
    assert!(!done.contains("code="), "{done}");

    // Its "Click here to continue" ends the login with the link.
    let (s, loc, body) = location(&b, &p.down.url(&page_link(&again, "kc-continue"))).await;
    assert_eq!(s, 302, "{body}");
    let tokens = tokens_at(&p, &loc, &verifier).await;
    let claims = payload(tokens["access_token"].as_str().unwrap());
    assert_eq!(claims["sub"], local.as_str());
    let links = links_of(&p, &admin, &local).await;
    assert_eq!(links[0]["identityProvider"], "up", "{links}");
    assert_eq!(links[0]["userName"], "dave");
    assert_eq!(sink.mails().len(), 2, "no further mail");

    // The second mail's link: its login is over.
    let second = link_path(&sink.mails()[1]);
    let (s, used) = open_link(&p, &browser(), &second).await;
    assert_eq!(s, 200, "{used}");
    assert!(
        used.contains("Your email address has been verified already."),
        "{used}"
    );
}

#[tokio::test]
async fn a_link_confirmed_in_another_browser_lets_the_next_first_login_link_without_mail() {
    let Some((p, sink)) = start_with_mail().await else {
        return;
    };
    let admin = admin_token(&p.down).await;
    let local = user_id(&users_named(&p, &admin, "local-dave").await);
    let b = browser();
    let (_, challenge) = pkce();
    let page = to_link_email_page(&p, &b, &challenge).await;
    let path = link_path(&sink.wait_for(1).await[0]);
    let (s, done) = open_link(&p, &browser(), &path).await;
    assert_eq!(s, 200, "{done}");
    assert_eq!(links_of(&p, &admin, &local).await, json!([]));

    // The first browser is abandoned; dave logs in through the provider again elsewhere:
    // Keycloak's proof (`runIfUserVerified`) links local-dave at once, no page, no mail.
    let third = browser();
    let (verifier, challenge3) = pkce();
    let upstream = to_provider(&p, &third, &auth_url(&p.down, &challenge3, "")).await;
    let back = upstream_login(&p, &third, &upstream, "dave", "dave-pw").await;
    let (s, loc, body) = location(&third, &back).await;
    assert_eq!(s, 302, "{body}");
    let tokens = tokens_at(&p, &loc, &verifier).await;
    assert_eq!(
        payload(tokens["access_token"].as_str().unwrap())["sub"],
        local.as_str()
    );
    let links = links_of(&p, &admin, &local).await;
    assert_eq!(links[0]["identityProvider"], "up", "{links}");
    assert_eq!(sink.mails().len(), 1);

    // The abandoned browser's login goes on to a link that exists already: refused.
    let (s, body) = get_page(&b, &p.down.url(&page_link(&page, "kc-continue"))).await;
    assert_eq!(s, 400, "{body}");
    assert!(
        body.contains("Unexpected error when authenticating with identity provider"),
        "{body}"
    );
    assert_eq!(
        links_of(&p, &admin, &local).await.as_array().unwrap().len(),
        1
    );

    // The proof is used up: after an unlink, the next first login asks again.
    let (s, body, _) = call(
        &p.down,
        "DELETE",
        &format!("/admin/realms/downstream/users/{local}/federated-identity/up"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 204, "{body}");
    to_link_email_page(&p, &browser(), &challenge3).await;
    assert_eq!(sink.wait_for(2).await.len(), 2);
    assert_eq!(links_of(&p, &admin, &local).await, json!([]));
}

#[tokio::test]
async fn email_verification_links_refuse_bad_input_and_link_nothing() {
    let Some((p, sink)) = start_with_mail().await else {
        return;
    };
    let admin = admin_token(&p.down).await;
    let local = user_id(&users_named(&p, &admin, "local-dave").await);
    let (_, challenge) = pkce();

    // A forged token and one posted to another realm: Keycloak's invalidCodeMessage.
    let b = browser();
    to_link_email_page(&p, &b, &challenge).await;
    let path = link_path(&sink.wait_for(1).await[0]);
    let key = path.split("key=").nth(1).unwrap().to_string();
    let (_, confirm) = get_page(&b, &p.down.url(&path)).await;
    let mut parts: Vec<String> = key.split('.').map(str::to_string).collect();
    let mut claims = payload(&key);
    claims["sub"] = json!("someone-else");
    parts[1] = b64url(claims.to_string().as_bytes());
    let forged = parts.join(".");
    let (s, body) = post_key(&p, &b, &confirm, &forged).await;
    assert_eq!(s, 400, "{body}");
    assert!(
        body.contains("An error occurred, please login again through your application."),
        "{body}"
    );
    let r = b
        .post(p.down.url("/realms/master/login-actions/action-token"))
        .form(&[("key", key.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("An error occurred, please login again"));

    // The user's e-mail changed meanwhile: Keycloak's staleCodeMessage.
    let mut dave = user_by_id(&p, &admin, &local).await;
    dave["email"] = json!("changed@example.com");
    let put = |u: Value| {
        let p = &p;
        let admin = admin.clone();
        let local = local.clone();
        async move {
            let (s, body, _) = call(
                &p.down,
                "PUT",
                &format!("/admin/realms/downstream/users/{local}"),
                Some(&admin),
                Some(u),
            )
            .await;
            assert_eq!(s, 204, "{body}");
        }
    };
    put(dave.clone()).await;
    let (s, body) = post_key(&p, &b, &confirm, &key).await;
    assert_eq!(s, 400, "{body}");
    assert!(
        body.contains(
            "This page is no longer valid, please go back to your application and sign in again"
        ),
        "{body}"
    );
    let errors = events_at_least(
        &p.down,
        &admin,
        EVENTS,
        "?type=IDENTITY_PROVIDER_LINK_ACCOUNT_ERROR",
        1,
    )
    .await;
    assert_eq!(errors[0]["error"], "invalid_email");
    dave["email"] = json!("taken@example.com");
    put(dave).await;
    assert_eq!(links_of(&p, &admin, &local).await, json!([]));
    assert_eq!(user_by_id(&p, &admin, &local).await["emailVerified"], false);

    // The identity got linked to someone else meanwhile: the login fails, nothing linked.
    let b = browser();
    to_link_email_page(&p, &b, &challenge).await;
    let path = link_path(&sink.wait_for(2).await[1]);
    let up_admin = admin_token(&p.up).await;
    let (_, up_users, _) = call(
        &p.up,
        "GET",
        "/admin/realms/upstream/users?username=dave&exact=true",
        Some(&up_admin),
        None,
    )
    .await;
    let dave_upstream = up_users[0]["id"].as_str().unwrap().to_string();
    let (s, body, _) = call(
        &p.down,
        "POST",
        "/admin/realms/downstream/users",
        Some(&admin),
        Some(json!({"username": "someone", "enabled": true})),
    )
    .await;
    assert_eq!(s, 201, "{body}");
    let someone = user_id(&users_named(&p, &admin, "someone").await);
    let (s, body, _) = call(
        &p.down,
        "POST",
        &format!("/admin/realms/downstream/users/{someone}/federated-identity/up"),
        Some(&admin),
        Some(json!({"identityProvider": "up", "userId": dave_upstream, "userName": "dave"})),
    )
    .await;
    assert!(s == 204 || s == 201, "{s} {body}");
    let (s, body) = open_link(&p, &b, &path).await;
    assert_eq!(s, 400, "{body}");
    assert!(
        body.contains("Unexpected error when authenticating with identity provider"),
        "{body}"
    );
    assert_eq!(links_of(&p, &admin, &local).await, json!([]));
    assert_eq!(
        links_of(&p, &admin, &someone).await[0]["userId"],
        dave_upstream.as_str()
    );

    // The user no longer exists: Keycloak's invalidUserMessage.
    let b = browser();
    let (s, body, _) = call(
        &p.down,
        "DELETE",
        &format!("/admin/realms/downstream/users/{someone}/federated-identity/up"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 204, "{body}");
    to_link_email_page(&p, &b, &challenge).await;
    let path = link_path(&sink.wait_for(3).await[2]);
    let (_, confirm) = get_page(&b, &p.down.url(&path)).await;
    let key = form_field(&confirm, "key").unwrap();
    let (s, body, _) = call(
        &p.down,
        "DELETE",
        &format!("/admin/realms/downstream/users/{local}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 204, "{body}");
    let (s, body) = post_key(&p, &b, &confirm, &key).await;
    assert_eq!(s, 400, "{body}");
    assert!(body.contains("Invalid username or password."), "{body}");
    let errors = events_at_least(
        &p.down,
        &admin,
        EVENTS,
        "?type=IDENTITY_PROVIDER_LINK_ACCOUNT_ERROR",
        2,
    )
    .await;
    assert!(
        errors.iter().any(|e| e["error"] == "user_not_found"),
        "{errors:?}"
    );
    assert_eq!(links_of(&p, &admin, &someone).await, json!([]));
}

#[tokio::test]
async fn without_an_smtp_server_email_verification_is_skipped_for_re_authentication() {
    let p = start_custom(Backend::Sqlite, |_| {}).await.unwrap();
    let b = browser();
    let (_, challenge) = pkce();
    let upstream = to_provider(&p, &b, &auth_url(&p.down, &challenge, "")).await;
    let back = upstream_login(&p, &b, &upstream, "dave", "dave-pw").await;
    let (_, _, confirm) = location(&b, &back).await;
    let (s, page) = post_page(&b, &p.down, &confirm, &[("submitAction", "linkAccount")]).await;
    assert_eq!(s, 200, "{page}");
    assert!(
        page.contains("Authenticate to link your account with up"),
        "{page}"
    );
    assert!(!page.contains("An email with instructions"), "{page}");
}

//! Organization-aware browser login (Keycloak 26's `organization` authenticator in the default
//! browser flow): identity-first login while the realm enables organizations, the choice of an
//! organization for `scope=organization` by a member of several (the tokens and refreshed
//! tokens carry the chosen one), the notice for an unknown user of an organization's domain,
//! the unrevealing password page for an unknown username, and the redirect to the
//! organization's identity provider for a member without a password whose domain it serves.

use serde_json::{json, Value};

use crate::support::*;

const REDIRECT: &str = "http://localhost:3000/cb";

fn realm(name: &str, enabled: bool) -> Value {
    let user = |u: &str, email: &str| {
        json!({"username": u, "enabled": true, "firstName": u, "lastName": "Tester", "email": email,
               "credentials": [{"type": "password", "value": format!("{u}-pw")}]})
    };
    json!({
        "realm": name,
        "organizationsEnabled": enabled,
        "identityProviders": [
            {"alias": "initech-idp", "providerId": "oidc", "enabled": true,
             "config": {"clientId": "x", "clientSecret": "y", "authorizationUrl": "https://idp.initech.example/auth",
                        "tokenUrl": "https://idp.initech.example/token",
                        "kc.org.domain": "initech.example", "kc.org.broker.redirect.mode.email-matches": "true"}}
        ],
        "organizations": [
            {"name": "Acme Inc", "alias": "acme", "enabled": true,
             "domains": [{"name": "acme.example", "verified": false}],
             "members": [{"username": "solo"}, {"username": "duo"}]},
            {"name": "Globex", "alias": "globex", "enabled": true,
             "domains": [{"name": "globex.example", "verified": false}],
             "members": [{"username": "duo"}]},
            {"name": "Initech", "alias": "initech", "enabled": true,
             "domains": [{"name": "initech.example", "verified": false}],
             "identityProviders": [{"alias": "initech-idp"}],
             "members": [{"username": "nopw"}]}
        ],
        "clients": [
            {"clientId": "web", "publicClient": true, "directAccessGrantsEnabled": true, "redirectUris": [format!("{REDIRECT}/*"), REDIRECT],
             "defaultClientScopes": ["basic", "profile"], "optionalClientScopes": ["organization"]}
        ],
        "users": [
            user("solo", "solo@acme.example"),
            user("duo", "duo@elsewhere.example"),
            user("loner", "loner@example.com"),
            {"username": "nopw", "enabled": true, "firstName": "No", "lastName": "Password",
             "email": "nopw@initech.example"}
        ]
    })
}

fn auth_url(server: &TestServer, realm: &str, scope: &str) -> String {
    server.url(&format!(
        "/realms/{realm}/protocol/openid-connect/auth?client_id=web&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcb&response_type=code&scope={scope}&state=s1"
    ))
}

fn token_url(server: &TestServer, realm: &str) -> String {
    server.url(&format!("/realms/{realm}/protocol/openid-connect/token"))
}

async fn redeem(server: &TestServer, realm: &str, code: &str) -> Value {
    let (status, tokens, _) = post_form(
        &token_url(server, realm),
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "web"),
            ("code", code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

fn has_input(html: &str, name: &str) -> bool {
    html.contains(&format!("name=\"{name}\""))
}

/// The redirect's `code` after posting the password page.
async fn password(b: &reqwest::Client, server: &TestServer, page: &str, pw: &str) -> String {
    assert!(has_input(page, "password"), "a password page: {page}");
    let (status, location) = post_page(b, server, page, &[("password", pw)]).await;
    assert_eq!(status, 302, "{location}");
    query_of(&location)["code"].clone()
}

async fn start(backend: Backend) -> Option<(Data, TestServer)> {
    let data = Data::new(backend).await?;
    let server = start_with(&data, &[realm("orgs", true), realm("plain", false)]).await;
    Some((data, server))
}

#[tokio::test]
async fn a_member_logs_in_identity_first_and_a_realm_without_organizations_does_not() {
    let (_data, server) = start(Backend::Sqlite).await.unwrap();
    let b = browser();
    let (status, first) = get_page(&b, &auth_url(&server, "orgs", "openid+organization")).await;
    assert_eq!(status, 200);
    assert!(has_input(&first, "username"), "{first}");
    assert!(
        !has_input(&first, "password"),
        "identity-first: the username alone: {first}"
    );
    let (status, second) = submit(&b, &server, &first, &[("username", "solo")]).await;
    assert_eq!(status, 200, "{second}");
    let code = password(&b, &server, &second, "solo-pw").await;
    let tokens = redeem(&server, "orgs", &code).await;
    let access = payload(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["organization"], json!(["acme"]), "{access}");

    // Without organizations the realm's first page asks for both.
    let (status, page) = get_page(&browser(), &auth_url(&server, "plain", "openid")).await;
    assert_eq!(status, 200);
    assert!(
        has_input(&page, "username") && has_input(&page, "password"),
        "{page}"
    );
}

async fn chooses_an_organization(backend: Backend) {
    let Some((data, server)) = start(backend).await else {
        return;
    };
    let b = browser();
    let (_, first) = get_page(&b, &auth_url(&server, "orgs", "openid+organization")).await;
    let (status, select) = submit(&b, &server, &first, &[("username", "duo")]).await;
    assert_eq!(status, 200);
    assert!(select.contains("kc-select-organization-form"), "{select}");
    assert!(
        select.contains("value=\"acme\"") && select.contains("value=\"globex\""),
        "{select}"
    );
    assert!(
        !select.contains("initech"),
        "only the user's organizations: {select}"
    );
    // An organization the user is not a member of is no choice: the page again.
    let (status, again) = submit(&b, &server, &select, &[("kc.org", "initech")]).await;
    assert_eq!(status, 200);
    assert!(again.contains("kc-select-organization-form"), "{again}");
    let (status, pw_page) = submit(&b, &server, &again, &[("kc.org", "globex")]).await;
    assert_eq!(status, 200);
    let code = password(&b, &server, &pw_page, "duo-pw").await;
    let tokens = redeem(&server, "orgs", &code).await;
    let access = payload(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["organization"], json!(["globex"]), "{access}");
    assert_eq!(
        payload(tokens["id_token"].as_str().unwrap())["organization"],
        json!(["globex"])
    );
    // The refreshed token names the same organization.
    let (status, refreshed, _) = post_form(
        &token_url(&server, "orgs"),
        None,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "web"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(status, 200, "{refreshed}");
    let access = payload(refreshed["access_token"].as_str().unwrap());
    assert_eq!(access["organization"], json!(["globex"]), "{access}");
    // Without a choice (the password grant) a member of two organizations gets none.
    let (status, direct) = password_grant(
        &server,
        "orgs",
        "web",
        None,
        "duo",
        "duo-pw",
        &[("scope", "openid organization")],
    )
    .await;
    assert_eq!(status, 200, "{direct}");
    let access = payload(direct["access_token"].as_str().unwrap());
    assert!(access.get("organization").is_none(), "{access}");
    data.cleanup().await;
}

#[tokio::test]
async fn a_member_of_two_organizations_chooses_one_for_its_tokens() {
    chooses_an_organization(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_member_of_two_organizations_chooses_one_for_its_tokens_postgres() {
    chooses_an_organization(Backend::Postgres).await;
}

#[tokio::test]
async fn unknown_users_learn_only_what_keycloak_tells_them() {
    let (_data, server) = start(Backend::Sqlite).await.unwrap();
    // An address of an organization's domain without an account: Keycloak's notice.
    let b = browser();
    let (_, first) = get_page(&b, &auth_url(&server, "orgs", "openid")).await;
    let (status, page) = submit(&b, &server, &first, &[("username", "carol@acme.example")]).await;
    assert_eq!(status, 200);
    assert!(
        page.contains(
            "Your email domain matches the Acme Inc organization but you don&#39;t have an account yet."
        ),
        "{page}"
    );
    assert!(!has_input(&page, "password"), "{page}");

    // Any other unknown name gets the password page, as a known user does, and then the
    // usual refusal.
    let b = browser();
    let (_, first) = get_page(&b, &auth_url(&server, "orgs", "openid")).await;
    let (status, page) = submit(&b, &server, &first, &[("username", "ghost")]).await;
    assert_eq!(status, 200);
    assert!(has_input(&page, "password"), "{page}");
    assert!(
        page.contains("value=\"ghost\""),
        "the name given is kept: {page}"
    );
    let (status, refused) = post_page(
        &b,
        &server,
        &page,
        &[("username", "ghost"), ("password", "x")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        refused.contains("Invalid username or password."),
        "{refused}"
    );

    // An empty username: the page again with Keycloak's message.
    let b = browser();
    let (_, first) = get_page(&b, &auth_url(&server, "orgs", "openid")).await;
    let (status, page) = submit(&b, &server, &first, &[("username", " ")]).await;
    assert_eq!(status, 200);
    assert!(page.contains("Invalid username."), "{page}");
}

#[tokio::test]
async fn a_member_without_a_password_is_sent_to_the_organizations_identity_provider() {
    let (_data, server) = start(Backend::Sqlite).await.unwrap();
    let b = browser();
    let (_, first) = get_page(&b, &auth_url(&server, "orgs", "openid")).await;
    let (status, location) =
        post_page(&b, &server, &first, &[("username", "nopw@initech.example")]).await;
    // The login continues at the organization's provider, with the name as `login_hint`.
    assert_eq!(status, 302, "{location}");
    assert!(
        location.starts_with("https://idp.initech.example/auth?"),
        "{location}"
    );
    let sent = query_of(&location);
    assert_eq!(sent["client_id"], "x");
    assert_eq!(sent["login_hint"], "nopw@initech.example");
    assert!(sent["redirect_uri"].ends_with("/realms/orgs/broker/initech-idp/endpoint"));

    // A member with a password is never sent away: `loner` has no organization and `solo`
    // logs in with the password.
    let b = browser();
    let (_, first) = get_page(&b, &auth_url(&server, "orgs", "openid")).await;
    let (status, page) = submit(&b, &server, &first, &[("username", "loner")]).await;
    assert_eq!(status, 200);
    let code = password(&b, &server, &page, "loner-pw").await;
    let tokens = redeem(&server, "orgs", &code).await;
    assert!(tokens["access_token"].is_string());
}

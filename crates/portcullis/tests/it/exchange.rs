//! RFC 8693 standard token exchange (Keycloak 26.2 "V2") over HTTP, with the realm of seed
//! 000's walkthrough: `api-a` trades its token for one whose audience is `api-b`.

use serde_json::{json, Value};

use crate::support::*;

const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS: &str = "urn:ietf:params:oauth:token-type:access_token";

fn audience_mapper(to: &str) -> Value {
    json!({"name": format!("aud-{to}"), "protocol": "openid-connect", "protocolMapper": "oidc-audience-mapper",
           "config": {"included.client.audience": to, "access.token.claim": "true", "id.token.claim": "false"}})
}

fn realm(name: &str) -> Value {
    let on = json!({"standard.token.exchange.enabled": "true"});
    json!({
        "realm": name,
        "clients": [
            {"clientId": "api-a", "secret": "api-a-secret", "serviceAccountsEnabled": true, "standardFlowEnabled": false,
             "attributes": {"standard.token.exchange.enabled": "true", "standard.token.exchange.enableRefreshRequestedTokenType": "SAME_SESSION"},
             "protocolMappers": [audience_mapper("api-b")]},
            {"clientId": "api-b", "secret": "api-b-secret", "serviceAccountsEnabled": true, "standardFlowEnabled": false},
            {"clientId": "api-c", "secret": "api-c-secret", "standardFlowEnabled": false},
            {"clientId": "web", "secret": "web-secret", "directAccessGrantsEnabled": true, "attributes": on.clone(),
             "protocolMappers": [audience_mapper("api-a"), audience_mapper("api-b")]},
            {"clientId": "brief", "secret": "brief-secret", "directAccessGrantsEnabled": true,
             "attributes": {"access.token.lifespan": "1"}, "protocolMappers": [audience_mapper("api-a")]},
            {"clientId": "lonely", "secret": "lonely-secret", "directAccessGrantsEnabled": true},
            {"clientId": "pub", "publicClient": true, "directAccessGrantsEnabled": true, "attributes": on.clone()},
            {"clientId": "noex", "secret": "noex-secret", "serviceAccountsEnabled": true}
        ],
        "users": [{"username": "alice", "firstName": "Alice", "lastName": "Tester", "email": "alice@example.com", "enabled": true, "credentials": [{"type": "password", "value": "alice-pw"}],
                   "realmRoles": [format!("default-roles-{name}")]}]
    })
}

struct Ctx {
    token: String,
    server: TestServer,
}

impl Ctx {
    async fn password(&self, (client_id, secret): (&str, &str)) -> Value {
        let (status, body) = password_grant(
            &self.server,
            "ex",
            client_id,
            Some(secret),
            "alice",
            "alice-pw",
            &[],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    async fn exchange(
        &self,
        client: (&str, &str),
        subject: &str,
        extra: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut form = vec![
            ("grant_type", EXCHANGE),
            ("subject_token", subject),
            ("subject_token_type", ACCESS),
        ];
        form.extend_from_slice(extra);
        let (status, body, _) = post_form(&self.token, Some(client), &form).await;
        (status, body)
    }
}

async fn start() -> (Data, Ctx) {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with_clock(&data, &[realm("ex"), realm("other")]).await;
    let token = server.url("/realms/ex/protocol/openid-connect/token");
    (data, Ctx { token, server })
}

const A: (&str, &str) = ("api-a", "api-a-secret");

#[tokio::test]
async fn seed_walkthrough_and_user_tokens_keep_sub_and_sid() {
    let (_data, c) = start().await;

    // The seed's walkthrough: api-a's own service-account token, exchanged for audience api-b.
    let (status, own, _) =
        post_form(&c.token, Some(A), &[("grant_type", "client_credentials")]).await;
    assert_eq!(status, 200, "{own}");
    let own_at = own["access_token"].as_str().unwrap();
    let (status, ex) = c
        .exchange(
            A,
            own_at,
            &[("requested_token_type", ACCESS), ("audience", "api-b")],
        )
        .await;
    assert_eq!(status, 200, "{ex}");
    assert_eq!(ex["issued_token_type"], ACCESS);
    assert_eq!(ex["token_type"], "Bearer");
    let t = payload(ex["access_token"].as_str().unwrap());
    assert_eq!(t["aud"], "api-b");
    assert_eq!(t["azp"], "api-a");
    assert_eq!(t["sub"], payload(own_at)["sub"]);
    assert!(ex.get("refresh_token").is_none());
    // The exchanged token is a token of the realm: introspection by api-b says active.
    let (status, intro, _) = post_form(
        &c.server
            .url("/realms/ex/protocol/openid-connect/token/introspect"),
        Some(("api-b", "api-b-secret")),
        &[("token", ex["access_token"].as_str().unwrap())],
    )
    .await;
    assert_eq!((status, &intro["active"]), (200, &json!(true)));

    // The seed's request exactly: no `subject_token_type` (an access token is assumed).
    let (status, body, _) = post_form(
        &c.token,
        None,
        &[
            ("grant_type", EXCHANGE),
            ("client_id", "api-a"),
            ("client_secret", "api-a-secret"),
            ("subject_token", own_at),
            ("requested_token_type", ACCESS),
            ("audience", "api-b"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        payload(body["access_token"].as_str().unwrap())["aud"],
        "api-b"
    );

    // A user's token issued to `web` (aud api-a, api-b): api-a is in its audience.
    let user = c.password(("web", "web-secret")).await;
    let user_at = user["access_token"].as_str().unwrap();
    let subject = payload(user_at);
    let (status, ex) = c.exchange(A, user_at, &[("audience", "api-b")]).await;
    assert_eq!(status, 200, "{ex}");
    let t = payload(ex["access_token"].as_str().unwrap());
    assert_eq!(t["aud"], "api-b");
    assert_ne!(t["aud"], json!(["api-a", "api-b"]));
    assert_eq!(t["azp"], "api-a");
    assert_eq!(t["sub"], subject["sub"]);
    assert_eq!(t["sid"], subject["sid"]);
    assert_eq!(t["preferred_username"], "alice");

    // Without `audience`: the requester's usual audience (its mappers and the user's roles).
    let (status, ex) = c.exchange(A, user_at, &[]).await;
    assert_eq!(status, 200);
    let aud = payload(ex["access_token"].as_str().unwrap())["aud"].clone();
    assert!(aud.as_array().unwrap().contains(&json!("api-b")), "{aud}");
    assert!(!aud.as_array().unwrap().contains(&json!("api-a")), "{aud}");

    // Refresh token where the client allows it (SAME_SESSION), bound to the same session.
    let (status, ex) = c
        .exchange(
            A,
            user_at,
            &[(
                "requested_token_type",
                "urn:ietf:params:oauth:token-type:refresh_token",
            )],
        )
        .await;
    assert_eq!(status, 200, "{ex}");
    assert_eq!(
        ex["issued_token_type"],
        "urn:ietf:params:oauth:token-type:refresh_token"
    );
    let rt = payload(ex["refresh_token"].as_str().unwrap());
    assert_eq!(
        (rt["sid"].clone(), rt["azp"].clone()),
        (subject["sid"].clone(), json!("api-a"))
    );
    let (status, _, _) = post_form(
        &c.token,
        Some(A),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", ex["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(status, 200);
    // ... but not from a token without a session (client credentials).
    let (status, ex) = c
        .exchange(
            A,
            own_at,
            &[(
                "requested_token_type",
                "urn:ietf:params:oauth:token-type:refresh_token",
            )],
        )
        .await;
    assert_eq!(
        (status, ex["error"].as_str()),
        (400, Some("invalid_request"))
    );

    // An ID token on request: in `access_token`, typed N_A.
    let (status, ex) = c
        .exchange(
            A,
            user_at,
            &[(
                "requested_token_type",
                "urn:ietf:params:oauth:token-type:id_token",
            )],
        )
        .await;
    assert_eq!(status, 200, "{ex}");
    assert_eq!(ex["token_type"], "N_A");
    assert_eq!(
        ex["issued_token_type"],
        "urn:ietf:params:oauth:token-type:id_token"
    );
    assert_eq!(payload(ex["access_token"].as_str().unwrap())["typ"], "ID");
    assert!(ex.get("id_token").is_none());

    // `scope=openid` adds an ID token beside the access token; unknown scopes are refused.
    let (status, ex) = c.exchange(A, user_at, &[("scope", "openid")]).await;
    assert_eq!(status, 200);
    assert_eq!(payload(ex["id_token"].as_str().unwrap())["aud"], "api-a");
    let (status, ex) = c.exchange(A, user_at, &[("scope", "nope")]).await;
    assert_eq!((status, ex["error"].as_str()), (400, Some("invalid_scope")));

    // Repeated parameters stay refused for every other grant.
    let (status, body, _) = post_form(
        &c.token,
        Some(("web", "web-secret")),
        &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "alice-pw"),
            ("audience", "a"),
            ("audience", "b"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
}

#[tokio::test]
async fn exchange_refusals_as_keycloak_answers_them() {
    let (_data, c) = start().await;
    let user = c.password(("web", "web-secret")).await;
    let user_at = user["access_token"].as_str().unwrap().to_string();

    let check = |r: (u16, Value), status: u16, error: &str, description: &str| {
        assert_eq!(r.0, status, "{}", r.1);
        assert_eq!(r.1["error"], error, "{}", r.1);
        if !description.is_empty() {
            assert_eq!(r.1["error_description"], description);
        }
    };

    // An audience the subject cannot reach; one of two.
    check(
        c.exchange(A, &user_at, &[("audience", "api-c")]).await,
        400,
        "invalid_request",
        "Requested audience not available: api-c",
    );
    check(
        c.exchange(A, &user_at, &[("audience", "api-b"), ("audience", "api-c")])
            .await,
        400,
        "invalid_request",
        "Requested audience not available: api-c",
    );
    check(
        c.exchange(A, &user_at, &[("audience", "no-such-client")])
            .await,
        400,
        "invalid_client",
        "Audience not found",
    );

    // A requester that neither holds the token nor is in its audience.
    let lonely = c.password(("lonely", "lonely-secret")).await;
    check(
        c.exchange(A, lonely["access_token"].as_str().unwrap(), &[])
            .await,
        403,
        "access_denied",
        "Client is not within the token audience",
    );

    // Public client; client without the attribute; wrong secret.
    let public = c.password(("pub", "")).await;
    let (status, body, _) = post_form(
        &c.token,
        None,
        &[
            ("grant_type", EXCHANGE),
            ("client_id", "pub"),
            ("subject_token", public["access_token"].as_str().unwrap()),
            ("subject_token_type", ACCESS),
        ],
    )
    .await;
    check(
        (status, body),
        400,
        "invalid_client",
        "Public client is not allowed to exchange token",
    );
    check(
        c.exchange(("noex", "noex-secret"), &user_at, &[]).await,
        400,
        "invalid_request",
        "Standard token exchange is not enabled for the requested client",
    );
    check(
        c.exchange(("api-a", "wrong"), &user_at, &[]).await,
        401,
        "unauthorized_client",
        "",
    );

    // Subject token type, requested token type.
    let (status, body, _) = post_form(
        &c.token,
        Some(A),
        &[
            ("grant_type", EXCHANGE),
            ("subject_token", &user_at),
            ("subject_token_type", "urn:ietf:params:oauth:token-type:jwt"),
        ],
    )
    .await;
    check(
        (status, body),
        400,
        "invalid_request",
        "Parameter 'subject_token' supports access tokens only",
    );
    check(
        c.exchange(
            ("web", "web-secret"),
            &user_at,
            &[(
                "requested_token_type",
                "urn:ietf:params:oauth:token-type:refresh_token",
            )],
        )
        .await,
        400,
        "invalid_request",
        "requested_token_type unsupported",
    );

    // A token of another realm; garbage.
    let other = c.server.url("/realms/other/protocol/openid-connect/token");
    let (status, foreign, _) =
        post_form(&other, Some(A), &[("grant_type", "client_credentials")]).await;
    assert_eq!(status, 200);
    check(
        c.exchange(A, foreign["access_token"].as_str().unwrap(), &[])
            .await,
        400,
        "invalid_request",
        "Invalid token",
    );
    check(
        c.exchange(A, "not.a.token", &[]).await,
        400,
        "invalid_request",
        "Invalid token",
    );

    // A revoked subject token, and one whose session ended.
    let revoked = c.password(("web", "web-secret")).await;
    let (status, _, _) = post_form(
        &c.server.url("/realms/ex/protocol/openid-connect/revoke"),
        Some(("web", "web-secret")),
        &[("token", revoked["access_token"].as_str().unwrap())],
    )
    .await;
    assert_eq!(status, 200);
    check(
        c.exchange(A, revoked["access_token"].as_str().unwrap(), &[])
            .await,
        400,
        "invalid_request",
        "Invalid token",
    );
    let (status, _, _) = post_form(
        &c.server.url("/realms/ex/protocol/openid-connect/logout"),
        Some(("web", "web-secret")),
        &[("refresh_token", user["refresh_token"].as_str().unwrap())],
    )
    .await;
    assert_eq!(status, 204);
    check(
        c.exchange(A, &user_at, &[]).await,
        400,
        "invalid_request",
        "Invalid token",
    );

    // An expired subject token (its client issues one-second tokens).
    let brief = c.password(("brief", "brief-secret")).await;
    assert_eq!(brief["expires_in"], 1);
    advance_clock(&c.server, 2).await;
    check(
        c.exchange(A, brief["access_token"].as_str().unwrap(), &[])
            .await,
        400,
        "invalid_request",
        "Invalid token",
    );
}

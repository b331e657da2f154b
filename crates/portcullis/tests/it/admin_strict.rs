//! Admin API edges through HTTP: strict JSON bodies (trailing data, duplicate keys), Keycloak's
//! JSON 404 for unknown sub-resources, the defaults of a client created through the Admin API,
//! the realm keys listing, the cache endpoints and the server info.

use serde_json::{json, Value};

use crate::support::*;

async fn server() -> (Data, TestServer, String) {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let s = start_with(&data, &[json!({"realm": "shop", "enabled": true})]).await;
    let token = admin_token(&s).await;
    (data, s, token)
}

/// A raw body (not re-serialized) to `path`.
async fn raw(s: &TestServer, method: &str, path: &str, token: &str, body: &str) -> (u16, Value) {
    let r = client()
        .request(method.parse().unwrap(), s.url(path))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn user_count(s: &TestServer, token: &str) -> i64 {
    let (status, n, _) = call(
        s,
        "GET",
        "/admin/realms/shop/users/count",
        Some(token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{n}");
    n.as_i64().unwrap()
}

#[tokio::test]
async fn malformed_bodies_are_refused_and_write_nothing() {
    let (data, s, t) = server().await;
    let before = user_count(&s, &t).await;
    let path = "/admin/realms/shop/users";
    // Data after the object.
    let (status, body) = raw(&s, "POST", path, &t, r#"{"username":"amy"} trailing"#).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["errorMessage"].as_str().unwrap().contains("trailing"),
        "{body}"
    );
    let (status, body) = raw(
        &s,
        "POST",
        path,
        &t,
        r#"{"username":"amy"}{"username":"bob"}"#,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    // A key given twice, at the top or nested.
    let (status, body) = raw(
        &s,
        "POST",
        path,
        &t,
        r#"{"username":"amy","username":"bob"}"#,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("duplicate field 'username'"),
        "{body}"
    );
    let (status, body) = raw(
        &s,
        "POST",
        path,
        &t,
        r#"{"username":"amy","attributes":{"a":["1"],"a":["2"]}}"#,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(user_count(&s, &t).await, before);
    // A realm update with trailing data changes nothing.
    let (status, body) = raw(
        &s,
        "PUT",
        "/admin/realms/shop",
        &t,
        r#"{"displayName":"Changed"} x"#,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (_, realm, _) = call(&s, "GET", "/admin/realms/shop", Some(&t), None).await;
    assert_ne!(realm["displayName"], "Changed");
    // The same bodies, well formed, are accepted.
    let (status, body) = raw(&s, "POST", path, &t, r#"{"username":"amy"}  "#).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(user_count(&s, &t).await, before + 1);
    data.cleanup().await;
}

#[tokio::test]
async fn unknown_admin_sub_resources_answer_keycloaks_json_404() {
    let (data, s, t) = server().await;
    let consult = "For more on this error consult the server log.";
    for (path, error) in [
        (
            "/admin/realms/nowhere/clients/x/user-sessions",
            "Realm not found.",
        ),
        (
            "/admin/realms/shop/clients/nope/no-such-thing",
            "Could not find client",
        ),
        (
            "/admin/realms/shop/users/nope/no-such-thing",
            "User not found",
        ),
        (
            "/admin/realms/shop/groups/nope/no-such-thing",
            "Could not find group by id",
        ),
        (
            "/admin/realms/shop/components/nope/no-such-thing",
            "Could not find component",
        ),
        (
            "/admin/realms/shop/client-scopes/nope/no-such-thing",
            "Could not find client scope",
        ),
        ("/admin/realms/shop/no-such-resource", "HTTP 404 Not Found"),
    ] {
        let (status, body, _) = call(&s, "GET", path, Some(&t), None).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(
            body,
            json!({"error": error, "error_description": consult}),
            "{path}"
        );
    }
    // A known client, an unknown sub-resource: past the locator.
    let (_, list, _) = call(
        &s,
        "GET",
        "/admin/realms/shop/clients?clientId=account",
        Some(&t),
        None,
    )
    .await;
    let id = list[0]["id"].as_str().unwrap();
    let (status, body, _) = call(
        &s,
        "GET",
        &format!("/admin/realms/shop/clients/{id}/no-such-thing"),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("HTTP 404 Not Found"))
    );
    // Without a token: 401 first, as Keycloak authenticates before the locators.
    let (status, _, _) = call(&s, "GET", "/admin/realms/shop/clients/nope/x", None, None).await;
    assert_eq!(status, 401);
    data.cleanup().await;
}

#[tokio::test]
async fn a_client_created_with_a_protocol_gets_keycloaks_oidc_defaults() {
    let (data, s, t) = server().await;
    let create = |body: Value| {
        let s = &s;
        let t = &t;
        async move {
            let (status, b, h) =
                call(s, "POST", "/admin/realms/shop/clients", Some(t), Some(body)).await;
            assert_eq!(status, 201, "{b}");
            let loc = h["location"].to_str().unwrap().to_string();
            let id = loc.rsplit('/').next().unwrap().to_string();
            let (_, c, _) = call(
                s,
                "GET",
                &format!("/admin/realms/shop/clients/{id}"),
                Some(t),
                None,
            )
            .await;
            c
        }
    };
    // `OIDCLoginProtocolFactory.setupClientDefaults`.
    let c = create(json!({"clientId": "spa", "protocol": "openid-connect"})).await;
    assert_eq!(c["publicClient"], true, "{c}");
    assert_eq!(c["bearerOnly"], false);
    assert_eq!(c["standardFlowEnabled"], true);
    assert_eq!(c["directAccessGrantsEnabled"], true);
    assert_eq!(c["implicitFlowEnabled"], false);
    assert_eq!(c["frontchannelLogout"], false);
    assert_eq!(
        c["attributes"]["backchannel.logout.session.required"],
        "true"
    );
    assert_eq!(
        c["attributes"]["backchannel.logout.revoke.offline.tokens"],
        "false"
    );
    assert!(c.get("secret").is_none_or(Value::is_null), "{c}");
    // Confidential when asked, with a generated secret; the flags given are kept.
    let c = create(json!({"clientId": "api", "protocol": "openid-connect", "publicClient": false,
                          "directAccessGrantsEnabled": false, "rootUrl": "https://api.example.com"})).await;
    assert_eq!(c["publicClient"], false);
    assert_eq!(c["directAccessGrantsEnabled"], false);
    assert!(c["secret"].as_str().is_some_and(|s| s.len() >= 32), "{c}");
    assert_eq!(c["redirectUris"], json!(["https://api.example.com/*"]));
    assert_eq!(c["webOrigins"], json!(["https://api.example.com"]));
    assert_eq!(c["adminUrl"], "https://api.example.com");
    // Without a protocol, `ClientManager.createClient` adds nothing: the model's defaults.
    let c = create(json!({"clientId": "plain"})).await;
    assert_eq!(c["publicClient"], false);
    assert_eq!(c["directAccessGrantsEnabled"], false);
    assert_eq!(c["protocol"], "openid-connect");
    // The public client with the defaults can use the password grant.
    let (status, _, _) = call(&s, "POST", "/admin/realms/shop/users", Some(&t), Some(json!({
        "username": "amy", "enabled": true, "email": "amy@example.com", "firstName": "A", "lastName": "My",
        "credentials": [{"type": "password", "value": "amy-password", "temporary": false}]}))).await;
    assert_eq!(status, 201);
    let (status, body, _) = post_form(
        &s.url("/realms/shop/protocol/openid-connect/token"),
        None,
        &[
            ("grant_type", "password"),
            ("client_id", "spa"),
            ("username", "amy"),
            ("password", "amy-password"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    data.cleanup().await;
}

#[tokio::test]
async fn keys_list_the_secret_keys_and_caches_clear() {
    let (data, s, t) = server().await;
    let (status, keys, _) = call(&s, "GET", "/admin/realms/shop/keys", Some(&t), None).await;
    assert_eq!(status, 200, "{keys}");
    let active: Vec<&str> = keys["active"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for alg in ["RS256", "RSA-OAEP", "HS512", "AES"] {
        assert!(active.contains(&alg), "{alg} in {keys}");
    }
    let hs = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["algorithm"] == "HS512")
        .unwrap();
    assert_eq!(
        (hs["type"].as_str(), hs["use"].as_str()),
        (Some("OCT"), Some("SIG"))
    );
    assert!(
        hs["providerId"].is_string() && hs["providerPriority"].is_i64(),
        "{hs}"
    );
    assert!(hs.get("secret").is_none(), "no secret in {hs}");
    let aes = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["algorithm"] == "AES")
        .unwrap();
    assert_eq!(
        (aes["type"].as_str(), aes["use"].as_str()),
        (Some("OCT"), Some("ENC"))
    );
    assert_eq!(keys["active"]["HS512"], hs["kid"]);

    for cache in ["clear-keys-cache", "clear-realm-cache", "clear-user-cache"] {
        let path = format!("/admin/realms/shop/{cache}");
        let (status, body, _) = call(&s, "POST", &path, Some(&t), None).await;
        assert_eq!(status, 204, "{cache}: {body}");
        let (status, _, _) = call(&s, "POST", &path, None, None).await;
        assert_eq!(status, 401, "{cache}");
    }
    // After the realm cache was rebuilt, the realm still serves.
    let (status, _, _) = call(&s, "GET", "/admin/realms/shop", Some(&t), None).await;
    assert_eq!(status, 200);
    let (status, body) = get_json(&s.url("/realms/shop/.well-known/openid-configuration")).await;
    assert_eq!(status, 200, "{body}");
    data.cleanup().await;
}

#[tokio::test]
async fn server_info_lists_what_the_server_supports() {
    let (data, s, t) = server().await;
    let (status, info, _) = call(&s, "GET", "/admin/serverinfo", Some(&t), None).await;
    assert_eq!(status, 200, "{info}");
    let mapper_ids: Vec<&str> = info["protocolMapperTypes"]["openid-connect"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(
        mapper_ids.contains(&"oidc-usermodel-attribute-mapper"),
        "{mapper_ids:?}"
    );
    let policies: Vec<&str> = info["passwordPolicies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert!(
        policies.contains(&"length") && policies.contains(&"passwordHistory"),
        "{policies:?}"
    );
    assert!(!info["builtinProtocolMappers"]["openid-connect"]
        .as_array()
        .unwrap()
        .is_empty());
    assert!(info["systemInfo"]["version"].is_string());
    let (status, _, _) = call(&s, "GET", "/admin/serverinfo", None, None).await;
    assert_eq!(status, 401);
    data.cleanup().await;
}

#[tokio::test]
async fn a_realm_exported_with_masked_keys_imports_with_new_keys() {
    let (data, s, t) = server().await;
    let (status, export, _) = call(
        &s,
        "POST",
        "/admin/realms/shop/partial-export?exportClients=true&exportGroupsAndRoles=true",
        Some(&t),
        None,
    )
    .await;
    assert_eq!(status, 200, "{export}");
    let comps = export["components"]["org.keycloak.keys.KeyProvider"]
        .as_array()
        .unwrap()
        .clone();
    let masked = |provider: &str, key: &str| {
        comps
            .iter()
            .any(|c| c["providerId"] == provider && c["config"][key][0] == "**********")
    };
    assert!(
        masked("rsa-generated", "privateKey") && masked("hmac-generated", "secret"),
        "{comps:?}"
    );
    let (status, _, _) = call(&s, "GET", "/admin/realms/shop/keys", Some(&t), None).await;
    assert_eq!(status, 200);
    let (_, old_keys, _) = call(&s, "GET", "/admin/realms/shop/keys", Some(&t), None).await;
    // Deleted and imported again from the export: the generated providers get new keys in
    // the same components.
    let (status, _, _) = call(&s, "DELETE", "/admin/realms/shop", Some(&t), None).await;
    assert_eq!(status, 204);
    let (status, body, _) = call(&s, "POST", "/admin/realms", Some(&t), Some(export.clone())).await;
    assert_eq!(status, 201, "{body}");
    let (status, keys, _) = call(&s, "GET", "/admin/realms/shop/keys", Some(&t), None).await;
    assert_eq!(status, 200, "{keys}");
    for alg in ["RS256", "RSA-OAEP", "HS512", "AES"] {
        let kid = &keys["active"][alg];
        assert!(kid.is_string(), "{alg} in {keys}");
        assert_ne!(kid, &old_keys["active"][alg], "{alg} is a new key");
    }
    let rs = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["algorithm"] == "RS256")
        .unwrap();
    assert!(
        comps.iter().any(|c| c["id"] == rs["providerId"]),
        "same component: {rs}"
    );
    let (status, _) = get_json(&s.url("/realms/shop/protocol/openid-connect/certs")).await;
    assert_eq!(status, 200);
    // An empty realm: Keycloak's message.
    let (status, body, _) = call(&s, "POST", "/admin/realms", Some(&t), Some(json!({}))).await;
    assert_eq!(
        (status, body),
        (400, json!({"errorMessage": "Realm name cannot be empty"}))
    );
    data.cleanup().await;
}

#[tokio::test]
async fn fields_of_the_wrong_type_are_refused_as_jackson_refuses_them() {
    let (data, s, t) = server().await;
    let (_, before, _) = call(&s, "GET", "/admin/realms/shop", Some(&t), None).await;
    for bad in [
        json!({"accessTokenLifespan": true}),
        json!({"accessTokenLifespan": "five minutes"}),
        json!({"enabled": "yes"}),
        json!({"enabled": {"a": 1}}),
        json!({"displayName": ["a", "b"]}),
        json!({"defaultDefaultClientScopes": "profile"}),
        json!({"smtpServer": "smtp.example.com"}),
        json!({"displayName": "Ok", "registrationAllowed": [true]}),
    ] {
        let (status, body, _) =
            call(&s, "PUT", "/admin/realms/shop", Some(&t), Some(bad.clone())).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"], "unknown_error", "{bad}: {body}");
        assert!(
            body["error_description"].as_str().is_some_and(
                |e| e.starts_with("Cannot parse the JSON: Cannot deserialize value of type")
            ),
            "{bad}: {body}"
        );
    }
    let (_, after, _) = call(&s, "GET", "/admin/realms/shop", Some(&t), None).await;
    assert_eq!(before, after, "nothing was written");
    // Jackson's coercions are accepted.
    let (status, body, _) = call(
        &s,
        "PUT",
        "/admin/realms/shop",
        Some(&t),
        Some(
            json!({"accessTokenLifespan": "600", "registrationAllowed": "true", "displayName": 42}),
        ),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (_, after, _) = call(&s, "GET", "/admin/realms/shop", Some(&t), None).await;
    assert_eq!(after["accessTokenLifespan"], 600);
    assert_eq!(after["registrationAllowed"], true);
    assert_eq!(after["displayName"], "42");

    // Client attributes are a Map<String, String>: scalars become text, lists are refused.
    let (status, body, h) = call(&s, "POST", "/admin/realms/shop/clients", Some(&t), Some(json!({
        "clientId": "tv", "protocol": "openid-connect",
        "attributes": {"oauth2.device.authorization.grant.enabled": true, "access.token.lifespan": 120}}))).await;
    assert_eq!(status, 201, "{body}");
    let id = h["location"]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let (_, c, _) = call(
        &s,
        "GET",
        &format!("/admin/realms/shop/clients/{id}"),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(
        c["attributes"]["oauth2.device.authorization.grant.enabled"],
        "true"
    );
    assert_eq!(c["attributes"]["access.token.lifespan"], "120");
    let (status, body) = post_form_status(&s, "tv").await;
    assert_eq!(status, 200, "the device grant is enabled: {body}");
    let (status, body, _) = call(
        &s,
        "PUT",
        &format!("/admin/realms/shop/clients/{id}"),
        Some(&t),
        Some(json!({"attributes": {"x": ["a"]}})),
    )
    .await;
    assert_eq!(status, 400, "{body}");

    // A component body with a field ComponentRepresentation lacks.
    let (status, body, _) = call(
        &s,
        "POST",
        "/admin/realms/shop/components",
        Some(&t),
        Some(json!({"bad": "dict"})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("Unrecognized field \"bad\""),
        "{body}"
    );

    // The bodies of events config, components, organizations, flows, authenticator configs
    // and required actions: a value of the wrong shape is Jackson's mismatch, with the field
    // in the reference chain, and nothing is written.
    let (status, _, _) = call(
        &s,
        "PUT",
        "/admin/realms/shop",
        Some(&t),
        Some(json!({"organizationsEnabled": true})),
    )
    .await;
    assert_eq!(status, 204);
    let (_, realm_before, _) = call(&s, "GET", "/admin/realms/shop", Some(&t), None).await;
    for (method, path, bad, field) in [
        (
            "PUT",
            "/admin/realms/shop/events/config",
            json!({"eventsEnabled": true, "eventsListeners": "jboss-logging"}),
            "RealmEventsConfigRepresentation[\"eventsListeners\"]",
        ),
        (
            "POST",
            "/admin/realms/shop/components",
            json!({"name": "k", "providerId": "rsa-generated", "config": {"priority": "100"}}),
            "ComponentRepresentation[\"config\"]",
        ),
        (
            "POST",
            "/admin/realms/shop/organizations",
            json!({"name": "acme", "domains": {"name": "acme.example"}}),
            "OrganizationRepresentation[\"domains\"]",
        ),
        (
            "POST",
            "/admin/realms/shop/authentication/flows",
            json!({"alias": "f", "providerId": "basic-flow", "authenticationExecutions": {}}),
            "AuthenticationFlowRepresentation[\"authenticationExecutions\"]",
        ),
        (
            "POST",
            "/admin/realms/shop/authentication/config",
            json!({"alias": "c", "config": ["x"]}),
            "AuthenticatorConfigRepresentation[\"config\"]",
        ),
    ] {
        let (status, body, _) = call(&s, method, path, Some(&t), Some(bad.clone())).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"], "unknown_error", "{bad}: {body}");
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|e| e.contains(field)),
            "{bad}: {body}"
        );
    }
    let (_, realm_after, _) = call(&s, "GET", "/admin/realms/shop", Some(&t), None).await;
    assert_eq!(realm_before, realm_after, "nothing was written");
    let (_, orgs, _) = call(
        &s,
        "GET",
        "/admin/realms/shop/organizations",
        Some(&t),
        None,
    )
    .await;
    assert_eq!(orgs, json!([]), "no organization was created");
    data.cleanup().await;
}

/// The device authorization request of public client `client`.
async fn post_form_status(s: &TestServer, client: &str) -> (u16, Value) {
    let (status, body, _) = post_form(
        &s.url("/realms/shop/protocol/openid-connect/auth/device"),
        None,
        &[("client_id", client)],
    )
    .await;
    (status, body)
}

/// A client asking for RS512 tokens in a realm with only RS256 keys: a `fallback-RS512` key
/// (priority -100) is generated as Keycloak's `createFallbackKeys` does, and the tokens are
/// signed with it.
#[tokio::test]
async fn a_client_asking_for_an_algorithm_without_a_key_gets_a_fallback_key() {
    let (data, s, t) = server().await;
    let (status, body, h) = call(&s, "POST", "/admin/realms/shop/clients", Some(&t), Some(json!({
        "clientId": "rs512", "protocol": "openid-connect", "publicClient": false, "secret": "s3cret",
        "attributes": {"access.token.signed.response.alg": "RS512", "id.token.signed.response.alg": "RS512"}}))).await;
    assert_eq!(status, 201, "{body}");
    let _ = h;
    let (_, comps, _) = call(
        &s,
        "GET",
        "/admin/realms/shop/components?type=org.keycloak.keys.KeyProvider",
        Some(&t),
        None,
    )
    .await;
    let fallback: Vec<&Value> = comps
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == "fallback-RS512")
        .collect();
    assert_eq!(fallback.len(), 1, "one fallback key: {comps}");
    assert_eq!(fallback[0]["config"]["priority"], json!(["-100"]));
    assert_eq!(fallback[0]["providerId"], "rsa-generated");
    let (status, _, _) = call(&s, "POST", "/admin/realms/shop/users", Some(&t), Some(json!({
        "username": "amy", "enabled": true, "email": "amy@example.com", "firstName": "A", "lastName": "My",
        "credentials": [{"type": "password", "value": "amy-password", "temporary": false}]}))).await;
    assert_eq!(status, 201);
    let (status, tokens, _) = post_form(
        &s.url("/realms/shop/protocol/openid-connect/token"),
        None,
        &[
            ("grant_type", "password"),
            ("client_id", "rs512"),
            ("client_secret", "s3cret"),
            ("username", "amy"),
            ("password", "amy-password"),
            ("scope", "openid"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let header = |jwt: &str| -> Value {
        use base64::Engine;
        let h = jwt.split('.').next().unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(h)
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(
        header(tokens["access_token"].as_str().unwrap())["alg"],
        "RS512"
    );
    assert_eq!(header(tokens["id_token"].as_str().unwrap())["alg"], "RS512");
    // The JWKS publishes it; a second client asking for RS512 reuses it.
    let (_, jwks) = get_json(&s.url("/realms/shop/protocol/openid-connect/certs")).await;
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["alg"] == "RS512"),
        "{jwks}"
    );
    let (status, _, _) = call(
        &s,
        "POST",
        "/admin/realms/shop/clients",
        Some(&t),
        Some(json!({
        "clientId": "rs512b", "attributes": {"access.token.signed.response.alg": "RS512"}})),
    )
    .await;
    assert_eq!(status, 201);
    let (_, comps, _) = call(
        &s,
        "GET",
        "/admin/realms/shop/components?type=org.keycloak.keys.KeyProvider",
        Some(&t),
        None,
    )
    .await;
    assert_eq!(
        comps
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["name"] == "fallback-RS512")
            .count(),
        1
    );
    data.cleanup().await;
}

/// The id in a `Location` header.
fn location_id(headers: &reqwest::header::HeaderMap) -> String {
    let loc = headers["location"].to_str().unwrap();
    loc.rsplit('/').next().unwrap().to_string()
}

#[tokio::test]
async fn every_admin_body_refuses_a_field_its_representation_lacks() {
    let (data, s, t) = server().await;
    // Fixtures every write below targets.
    let (st, _, h) = call(
        &s,
        "POST",
        "/admin/realms/shop/users",
        Some(&t),
        Some(json!({"username": "ann", "enabled": true})),
    )
    .await;
    assert_eq!(st, 201);
    let user = location_id(&h);
    let (st, _, h) = call(
        &s,
        "POST",
        "/admin/realms/shop/groups",
        Some(&t),
        Some(json!({"name": "staff"})),
    )
    .await;
    assert_eq!(st, 201);
    let group = location_id(&h);
    let (st, _, h) = call(
        &s,
        "POST",
        "/admin/realms/shop/clients",
        Some(&t),
        Some(json!({"clientId": "app"})),
    )
    .await;
    assert_eq!(st, 201);
    let client = location_id(&h);
    let (st, _, h) = call(
        &s,
        "POST",
        "/admin/realms/shop/client-scopes",
        Some(&t),
        Some(json!({"name": "extra", "protocol": "openid-connect"})),
    )
    .await;
    assert_eq!(st, 201);
    let scope = location_id(&h);
    let (st, _, _) = call(
        &s,
        "POST",
        "/admin/realms/shop/roles",
        Some(&t),
        Some(json!({"name": "clerk"})),
    )
    .await;
    assert_eq!(st, 201);
    let mapper = json!({"name": "m", "protocol": "openid-connect",
        "protocolMapper": "oidc-hardcoded-claim-mapper",
        "config": {"claim.name": "c", "claim.value": "v", "access.token.claim": "true"}});

    // (method, path, body, the class Jackson names)
    let cases: Vec<(&str, String, Value, &str)> = vec![
        (
            "POST",
            "/admin/realms/shop/users".into(),
            json!({"username": "bob", "bogus": 1}),
            "UserRepresentation",
        ),
        (
            "PUT",
            format!("/admin/realms/shop/users/{user}"),
            json!({"bogus": 1}),
            "UserRepresentation",
        ),
        (
            "POST",
            "/admin/realms/shop/users".into(),
            json!({"username": "bob", "firstName": "Bob", "lastName": "Tester", "email": "bob@example.com", "credentials": [{"type": "password", "value": "x", "bogus": 1}]}),
            "CredentialRepresentation",
        ),
        (
            "PUT",
            format!("/admin/realms/shop/users/{user}/reset-password"),
            json!({"type": "password", "value": "pw-1", "bogus": true}),
            "CredentialRepresentation",
        ),
        (
            "POST",
            "/admin/realms/shop/groups".into(),
            json!({"name": "g2", "bogus": 1}),
            "GroupRepresentation",
        ),
        (
            "POST",
            format!("/admin/realms/shop/groups/{group}/children"),
            json!({"name": "g3", "bogus": 1}),
            "GroupRepresentation",
        ),
        (
            "PUT",
            format!("/admin/realms/shop/groups/{group}"),
            json!({"name": "staff", "bogus": 1}),
            "GroupRepresentation",
        ),
        (
            "POST",
            "/admin/realms/shop/roles".into(),
            json!({"name": "r2", "bogus": 1}),
            "RoleRepresentation",
        ),
        (
            "PUT",
            "/admin/realms/shop/roles/clerk".into(),
            json!({"name": "clerk", "bogus": 1}),
            "RoleRepresentation",
        ),
        (
            "POST",
            "/admin/realms/shop/roles".into(),
            json!({"name": "r3", "composite": true, "composites": {"realm": ["clerk"], "bogus": []}}),
            "RoleRepresentation$Composites",
        ),
        (
            "POST",
            "/admin/realms/shop/roles/clerk/composites".into(),
            json!([{"name": "offline_access", "bogus": 1}]),
            "RoleRepresentation",
        ),
        (
            "POST",
            format!("/admin/realms/shop/users/{user}/role-mappings/realm"),
            json!([{"name": "clerk", "bogus": 1}]),
            "RoleRepresentation",
        ),
        (
            "POST",
            "/admin/realms/shop/clients".into(),
            json!({"clientId": "app2", "bogus": 1}),
            "ClientRepresentation",
        ),
        (
            "PUT",
            format!("/admin/realms/shop/clients/{client}"),
            json!({"bogus": 1}),
            "ClientRepresentation",
        ),
        (
            "POST",
            "/admin/realms/shop/clients".into(),
            json!({"clientId": "app3", "protocolMappers": [{"name": "m", "protocol": "openid-connect", "protocolMapper": "oidc-hardcoded-claim-mapper", "bogus": 1}]}),
            "ProtocolMapperRepresentation",
        ),
        (
            "POST",
            format!("/admin/realms/shop/clients/{client}/protocol-mappers/models"),
            {
                let mut m = mapper.clone();
                m["bogus"] = json!(1);
                m
            },
            "ProtocolMapperRepresentation",
        ),
        (
            "POST",
            format!("/admin/realms/shop/clients/{client}/protocol-mappers/add-models"),
            json!([{"name": "m2", "bogus": 1}]),
            "ProtocolMapperRepresentation",
        ),
        (
            "POST",
            "/admin/realms/shop/client-scopes".into(),
            json!({"name": "s2", "bogus": 1}),
            "ClientScopeRepresentation",
        ),
        (
            "PUT",
            format!("/admin/realms/shop/client-scopes/{scope}"),
            json!({"bogus": 1}),
            "ClientScopeRepresentation",
        ),
        (
            "POST",
            format!("/admin/realms/shop/client-scopes/{scope}/protocol-mappers/models"),
            {
                let mut m = mapper.clone();
                m["bogus"] = json!(1);
                m
            },
            "ProtocolMapperRepresentation",
        ),
        (
            "POST",
            "/admin/realms/shop/clients-initial-access".into(),
            json!({"count": 1, "bogus": 1}),
            "ClientInitialAccessCreatePresentation",
        ),
        (
            "POST",
            "/admin/realms".into(),
            json!({"realm": "r2", "users": [{"username": "u", "bogus": 1}]}),
            "UserRepresentation",
        ),
        (
            "POST",
            "/admin/realms".into(),
            json!({"realm": "r3", "bogus": 1}),
            "RealmRepresentation",
        ),
        (
            "POST",
            "/admin/realms/shop/partialImport".into(),
            json!({"ifResourceExists": "SKIP", "clients": [{"clientId": "pi", "bogus": 1}]}),
            "ClientRepresentation",
        ),
    ];
    for (method, path, body, class) in &cases {
        let (st, out, _) = call(&s, method, path, Some(&t), Some(body.clone())).await;
        assert_eq!(st, 400, "{method} {path} {body}: {out}");
        let expected = format!(
            "Unrecognized field \"bogus\" (class org.keycloak.representations.idm.{class})"
        );
        assert!(
            out["error"]
                .as_str()
                .is_some_and(|e| e.starts_with(&expected)),
            "{method} {path}: {out}"
        );
    }
    // Nothing of the refused writes exists.
    let (_, users, _) = call(
        &s,
        "GET",
        "/admin/realms/shop/users?briefRepresentation=true",
        Some(&t),
        None,
    )
    .await;
    assert_eq!(users.as_array().unwrap().len(), 1, "{users}");
    let (_, clients, _) = call(&s, "GET", "/admin/realms/shop/clients", Some(&t), None).await;
    let ids: Vec<&str> = clients
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["clientId"].as_str())
        .collect();
    assert!(
        !ids.iter().any(|c| ["app2", "app3", "pi"].contains(c)),
        "{ids:?}"
    );
    for realm in ["r2", "r3"] {
        let (st, _, _) = call(&s, "GET", &format!("/admin/realms/{realm}"), Some(&t), None).await;
        assert_eq!(st, 404, "{realm} was not created");
    }
    // PartialImportRepresentation itself ignores unknown fields, as Keycloak's does.
    let (st, out, _) = call(
        &s,
        "POST",
        "/admin/realms/shop/partialImport",
        Some(&t),
        Some(json!({"ifResourceExists": "SKIP", "whatever": 1, "clients": [{"clientId": "pi2"}]})),
    )
    .await;
    assert_eq!(st, 200, "{out}");
    data.cleanup().await;
}

#[tokio::test]
async fn attribute_maps_are_read_with_their_declared_types() {
    let (data, s, t) = server().await;
    // A group's attributes are Map<String, List<String>>: a bare string is refused.
    let (st, out, _) = call(
        &s,
        "POST",
        "/admin/realms/shop/groups",
        Some(&t),
        Some(json!({"name": "g", "attributes": {"a": "notalist"}})),
    )
    .await;
    assert_eq!(st, 400, "{out}");
    assert_eq!(out["error"], "unknown_error", "{out}");
    let d = out["error_description"].as_str().unwrap();
    assert!(
        d.contains("java.util.ArrayList<java.lang.String>")
            && d.contains("GroupRepresentation[\"attributes\"]->java.util.LinkedHashMap[\"a\"]"),
        "{d}"
    );
    let (_, groups, _) = call(&s, "GET", "/admin/realms/shop/groups", Some(&t), None).await;
    assert_eq!(groups, json!([]));
    // Same for a role's, and a list element that is an object.
    let (st, out, _) = call(
        &s,
        "POST",
        "/admin/realms/shop/roles",
        Some(&t),
        Some(json!({"name": "r", "attributes": {"a": ["x", {"y": 1}]}})),
    )
    .await;
    assert_eq!(
        (st, out["error"].as_str()),
        (400, Some("unknown_error")),
        "{out}"
    );
    // A client's attributes are Map<String, String>: a number becomes its text, a list is refused.
    let (st, _, h) = call(
        &s,
        "POST",
        "/admin/realms/shop/clients",
        Some(&t),
        Some(json!({"clientId": "app", "attributes": {"post.logout.redirect.uris": "+", "n": 5}})),
    )
    .await;
    assert_eq!(st, 201);
    let id = location_id(&h);
    let (_, c, _) = call(
        &s,
        "GET",
        &format!("/admin/realms/shop/clients/{id}"),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(c["attributes"]["n"], "5", "{c}");
    let (st, out, _) = call(
        &s,
        "PUT",
        &format!("/admin/realms/shop/clients/{id}"),
        Some(&t),
        Some(json!({"redirectUris": "https://app.example/*"})),
    )
    .await;
    assert_eq!(
        (st, out["error"].as_str()),
        (400, Some("unknown_error")),
        "{out}"
    );
    // A user's attributes take a single value for a list (Keycloak's StringListMapDeserializer).
    // Attributes the user profile does not declare are kept only when the realm's policy
    // allows them (Keycloak 24+).
    let (_, mut profile, _) = call(
        &s,
        "GET",
        "/admin/realms/shop/users/profile",
        Some(&t),
        None,
    )
    .await;
    profile["unmanagedAttributePolicy"] = json!("ENABLED");
    let (st, out, _) = call(
        &s,
        "PUT",
        "/admin/realms/shop/users/profile",
        Some(&t),
        Some(profile),
    )
    .await;
    assert_eq!(st, 200, "{out}");
    let (st, out, h) = call(
        &s,
        "POST",
        "/admin/realms/shop/users",
        Some(&t),
        Some(json!({"username": "ann", "attributes": {"dept": "sales", "tags": ["a", "b"]}})),
    )
    .await;
    assert_eq!(st, 201, "{out}");
    let uid = location_id(&h);
    let (_, u, _) = call(
        &s,
        "GET",
        &format!("/admin/realms/shop/users/{uid}"),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(u["attributes"]["dept"], json!(["sales"]), "{u}");
    assert_eq!(u["attributes"]["tags"], json!(["a", "b"]), "{u}");
    let (st, out, _) = call(
        &s,
        "PUT",
        &format!("/admin/realms/shop/users/{uid}"),
        Some(&t),
        Some(json!({"attributes": {"dept": {"nested": true}}})),
    )
    .await;
    assert_eq!(
        (st, out["error"].as_str()),
        (400, Some("unknown_error")),
        "{out}"
    );
    let (_, u, _) = call(
        &s,
        "GET",
        &format!("/admin/realms/shop/users/{uid}"),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(u["attributes"]["dept"], json!(["sales"]), "unchanged: {u}");
    data.cleanup().await;
}

/// `user.info.response.signature.alg` (python-keycloak's `test_client_signed_response`): the
/// client gets its userinfo as a JWT signed with a realm key of that algorithm (a fallback key
/// generated when the realm has none), carrying `iss` and `aud`; other clients still get JSON.
#[tokio::test]
async fn a_client_asking_for_signed_userinfo_gets_a_jwt() {
    let (data, s, t) = server().await;
    for (client, attrs) in [
        (
            "signed",
            json!({"user.info.response.signature.alg": "ES256"}),
        ),
        ("plain", json!({})),
    ] {
        let (status, body, _) = call(
            &s,
            "POST",
            "/admin/realms/shop/clients",
            Some(&t),
            Some(json!({
            "clientId": client, "publicClient": false, "secret": "s3cret",
            "directAccessGrantsEnabled": true, "attributes": attrs})),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, _, _) = call(&s, "POST", "/admin/realms/shop/users", Some(&t), Some(json!({
        "username": "amy", "enabled": true, "email": "amy@example.com", "firstName": "A", "lastName": "My",
        "credentials": [{"type": "password", "value": "amy-password", "temporary": false}]}))).await;
    assert_eq!(status, 201);
    let userinfo = |name: &'static str| {
        let s = &s;
        async move {
            let (status, tokens, _) = post_form(
                &s.url("/realms/shop/protocol/openid-connect/token"),
                None,
                &[
                    ("grant_type", "password"),
                    ("client_id", name),
                    ("client_secret", "s3cret"),
                    ("username", "amy"),
                    ("password", "amy-password"),
                    ("scope", "openid"),
                ],
            )
            .await;
            assert_eq!(status, 200, "{tokens}");
            let r = client()
                .get(s.url("/realms/shop/protocol/openid-connect/userinfo"))
                .bearer_auth(tokens["access_token"].as_str().unwrap())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let ct = r.headers()["content-type"].to_str().unwrap().to_string();
            (ct, r.text().await.unwrap())
        }
    };
    let (ct, jwt) = userinfo("signed").await;
    assert_eq!(ct, "application/jwt");
    let header = jsonwebtoken::decode_header(&jwt).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    let (_, jwks) = get_json(&s.url("/realms/shop/protocol/openid-connect/certs")).await;
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"].as_str() == header.kid.as_deref())
        .expect("the signing key is in the JWKS")
        .clone();
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    v.set_audience(&["signed"]);
    v.set_issuer(&[s.url("/realms/shop")]);
    v.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Value>(
        &jwt,
        &jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap(),
        &v,
    )
    .expect("signature, issuer and audience verify")
    .claims;
    assert_eq!(claims["preferred_username"], "amy");
    assert_eq!(claims["email"], "amy@example.com");
    let (ct, text) = userinfo("plain").await;
    assert!(ct.starts_with("application/json"), "{ct}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["preferred_username"], "amy");
    assert!(body.get("aud").is_none(), "{body}");
    data.cleanup().await;
}

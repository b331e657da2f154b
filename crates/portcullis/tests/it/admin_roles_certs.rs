//! Admin REST API through HTTP: role attributes and `briefRepresentation`, scope mappings of
//! client scopes and clients (direct, composite, available) and their effect on tokens, the
//! composite role mappings of groups, client certificates and user consents.

use serde_json::{json, Value};

use crate::support::*;

const R: &str = "/admin/realms/shop";

fn shop() -> Value {
    json!({
        "realm": "shop",
        "enabled": true,
        "roles": {
            "realm": [{"name": "buyer", "attributes": {"tier": ["gold"]}}],
            "client": {"api": [
                {"name": "read", "attributes": {"level": ["1", "2"]}},
                {"name": "admin", "composite": true, "composites": {"client": {"api": ["read"]}}}
            ]}
        },
        "groups": [{"name": "staff", "clientRoles": {"api": ["admin"]},
                    "subGroups": [{"name": "night"}]}],
        "clients": [
            {"clientId": "api", "bearerOnly": true},
            {"clientId": "app", "secret": "app-secret", "directAccessGrantsEnabled": true,
             "fullScopeAllowed": false}
        ],
        "users": [{"username": "ann", "enabled": true, "email": "ann@example.com",
                   "firstName": "A", "lastName": "Nn",
                   "credentials": [{"type": "password", "value": "ann-password"}],
                   "realmRoles": ["buyer"], "clientRoles": {"api": ["read"]}}]
    })
}

async fn shop_server() -> (Data, TestServer, String) {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let s = start_with(&data, &[shop()]).await;
    let t = admin_token(&s).await;
    (data, s, t)
}

async fn get(s: &TestServer, t: &str, path: &str) -> Value {
    let (status, body, _) = call(s, "GET", path, Some(t), None).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

async fn client_uuid(s: &TestServer, t: &str, client_id: &str) -> String {
    let list = get(s, t, &format!("{R}/clients?clientId={client_id}")).await;
    list[0]["id"].as_str().unwrap().to_string()
}

fn names(list: &Value) -> Vec<String> {
    let mut v: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

fn named<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in {list}"))
}

async fn ann_token(s: &TestServer) -> Value {
    let (status, body) = password_grant(
        s,
        "shop",
        "app",
        Some("app-secret"),
        "ann",
        "ann-password",
        &[],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    jwt::payload(body["access_token"].as_str().unwrap())
}

/// Role lists are brief (no `attributes`) unless `briefRepresentation=false`, as Keycloak's
/// `RoleContainerResource`; a single role has its attributes, which create and update keep.
#[tokio::test]
async fn role_lists_are_brief_unless_asked_and_attributes_round_trip() {
    let (data, s, t) = shop_server().await;
    let api = client_uuid(&s, &t, "api").await;

    for q in ["", "?briefRepresentation=true", "?briefRepresentation=True"] {
        let realm = get(&s, &t, &format!("{R}/roles{q}")).await;
        assert!(
            named(&realm, "buyer").get("attributes").is_none(),
            "{q}: {realm}"
        );
        assert_eq!(named(&realm, "buyer")["clientRole"], false);
        let client = get(&s, &t, &format!("{R}/clients/{api}/roles{q}")).await;
        assert!(
            named(&client, "read").get("attributes").is_none(),
            "{q}: {client}"
        );
    }
    for q in ["?briefRepresentation=false", "?briefRepresentation=False"] {
        let realm = get(&s, &t, &format!("{R}/roles{q}")).await;
        assert_eq!(
            named(&realm, "buyer")["attributes"],
            json!({"tier": ["gold"]})
        );
        // A role without attributes answers an empty map, as `toRepresentation` does.
        assert_eq!(named(&realm, "offline_access")["attributes"], json!({}));
        let client = get(&s, &t, &format!("{R}/clients/{api}/roles{q}")).await;
        assert_eq!(
            named(&client, "read")["attributes"],
            json!({"level": ["1", "2"]})
        );
    }
    let one = get(&s, &t, &format!("{R}/roles/buyer")).await;
    assert_eq!(one["attributes"], json!({"tier": ["gold"]}));

    // Created with attributes, read back by name and by id; updated attributes replace them.
    let (status, body, _) = call(
        &s,
        "POST",
        &format!("{R}/clients/{api}/roles"),
        Some(&t),
        Some(json!({"name": "write", "description": "may write", "attributes": {"a": ["1"]}})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let w = get(&s, &t, &format!("{R}/clients/{api}/roles/write")).await;
    assert_eq!(w["attributes"], json!({"a": ["1"]}));
    assert_eq!(w["description"], "may write");
    let id = w["id"].as_str().unwrap().to_string();
    let (status, body, _) = call(
        &s,
        "PUT",
        &format!("{R}/roles-by-id/{id}"),
        Some(&t),
        Some(json!({"name": "write", "attributes": {"b": ["2", "3"]}})),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let w = get(&s, &t, &format!("{R}/roles-by-id/{id}")).await;
    assert_eq!(w["attributes"], json!({"b": ["2", "3"]}));
    let listed = get(
        &s,
        &t,
        &format!("{R}/clients/{api}/roles?briefRepresentation=false"),
    )
    .await;
    assert_eq!(
        named(&listed, "write")["attributes"],
        json!({"b": ["2", "3"]})
    );
    data.cleanup().await;
}

/// Mapping lists are brief; `/composite` answers attributes with `briefRepresentation=false`;
/// `/available` of a user leaves out only the roles mapped directly (Keycloak's
/// `hasDirectRole`); a body element that is not a role object is a 400 `unknown_error` and
/// changes nothing.
#[tokio::test]
async fn user_mapping_lists_and_bodies_that_are_not_roles() {
    let (data, s, t) = shop_server().await;
    let users = get(&s, &t, &format!("{R}/users?username=ann&exact=true")).await;
    let ann = users[0]["id"].as_str().unwrap().to_string();
    let base = format!("{R}/users/{ann}/role-mappings/realm");

    let direct = get(&s, &t, &base).await;
    assert!(
        named(&direct, "buyer").get("attributes").is_none(),
        "{direct}"
    );
    let composite = get(&s, &t, &format!("{base}/composite")).await;
    assert!(named(&composite, "buyer").get("attributes").is_none());
    let full = get(
        &s,
        &t,
        &format!("{base}/composite?briefRepresentation=false"),
    )
    .await;
    assert_eq!(
        named(&full, "buyer")["attributes"],
        json!({"tier": ["gold"]})
    );
    let available = get(&s, &t, &format!("{base}/available")).await;
    let av = names(&available);
    assert!(av.contains(&"offline_access".to_string()), "{av:?}");
    assert!(!av.contains(&"buyer".to_string()), "{av:?}");

    for method in ["POST", "DELETE"] {
        let before = get(&s, &t, &base).await;
        let offline = named(&available, "offline_access").clone();
        let (status, body, _) =
            call(&s, method, &base, Some(&t), Some(json!([offline, "bad"]))).await;
        assert_eq!(status, 400, "{method}: {body}");
        assert_eq!(body["error"], "unknown_error", "{body}");
        assert_eq!(get(&s, &t, &base).await, before, "{method} half-wrote");
    }
    data.cleanup().await;
}

/// A client scope's scope mappings: client roles and realm roles added, listed (direct,
/// composite, available), shown in `{"realmMappings", "clientMappings"}`, let into the tokens
/// of a client without full scope that has the scope, and removed again.
#[tokio::test]
async fn client_scope_scope_mappings_reach_tokens() {
    let (data, s, t) = shop_server().await;
    let api = client_uuid(&s, &t, "api").await;
    let app = client_uuid(&s, &t, "app").await;
    let (status, body, headers) = call(
        &s,
        "POST",
        &format!("{R}/client-scopes"),
        Some(&t),
        Some(json!({"name": "api-access", "protocol": "openid-connect", "attributes": {}})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let loc = headers["location"].to_str().unwrap();
    let scope = loc.rsplit('/').next().unwrap().to_string();
    let sm = format!("{R}/client-scopes/{scope}/scope-mappings");

    assert_eq!(get(&s, &t, &sm).await, json!({}));
    assert_eq!(get(&s, &t, &format!("{sm}/clients/{api}")).await, json!([]));
    assert_eq!(
        names(&get(&s, &t, &format!("{sm}/clients/{api}/available")).await),
        ["admin", "read"]
    );

    // The client has the scope by default; without full scope and mappings, no api roles.
    let (status, body, _) = call(
        &s,
        "PUT",
        &format!("{R}/clients/{app}/default-client-scopes/{scope}"),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let claims = ann_token(&s).await;
    assert!(claims["resource_access"].get("api").is_none(), "{claims}");

    let admin_role = get(&s, &t, &format!("{R}/clients/{api}/roles/admin")).await;
    let buyer = get(&s, &t, &format!("{R}/roles/buyer")).await;
    let (status, body, _) = call(
        &s,
        "POST",
        &format!("{sm}/clients/{api}"),
        Some(&t),
        Some(json!([admin_role])),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (status, body, _) = call(
        &s,
        "POST",
        &format!("{sm}/realm"),
        Some(&t),
        Some(json!([buyer])),
    )
    .await;
    assert_eq!(status, 204, "{body}");

    assert_eq!(
        names(&get(&s, &t, &format!("{sm}/clients/{api}")).await),
        ["admin"]
    );
    // In effect: admin and, through it, read; so nothing of api is left to add.
    assert_eq!(
        names(&get(&s, &t, &format!("{sm}/clients/{api}/composite")).await),
        ["admin", "read"]
    );
    assert_eq!(
        get(&s, &t, &format!("{sm}/clients/{api}/available")).await,
        json!([])
    );
    assert_eq!(names(&get(&s, &t, &format!("{sm}/realm")).await), ["buyer"]);
    assert!(names(&get(&s, &t, &format!("{sm}/realm/available")).await)
        .contains(&"offline_access".to_string()));
    let all = get(&s, &t, &sm).await;
    assert_eq!(names(&all["realmMappings"]), ["buyer"]);
    assert_eq!(all["clientMappings"]["api"]["id"], api.as_str());
    assert_eq!(all["clientMappings"]["api"]["client"], "api");
    assert_eq!(names(&all["clientMappings"]["api"]["mappings"]), ["admin"]);

    // Ann holds api:read; the scope lets it (a composite of admin) into the token.
    let claims = ann_token(&s).await;
    assert_eq!(
        claims["resource_access"]["api"]["roles"],
        json!(["read"]),
        "{claims}"
    );
    assert!(claims["realm_access"]["roles"]
        .as_array()
        .unwrap()
        .contains(&json!("buyer")));

    // A role of another client, a role object that does not exist, an unknown scope.
    let (status, body, _) = call(
        &s,
        "POST",
        &format!("{sm}/clients/{app}"),
        Some(&t),
        Some(json!([admin_role])),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    let (status, body, _) = call(
        &s,
        "POST",
        &format!("{sm}/clients/{api}"),
        Some(&t),
        Some(json!(["bad"])),
    )
    .await;
    assert_eq!(
        (status, body["error"].clone()),
        (400, json!("unknown_error"))
    );
    let (status, body, _) = call(
        &s,
        "GET",
        &format!("{R}/client-scopes/nope/scope-mappings/realm"),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "Could not find client scope");

    // Removed: gone from the lists and from the token.
    let (status, body, _) = call(
        &s,
        "DELETE",
        &format!("{sm}/clients/{api}"),
        Some(&t),
        Some(json!([admin_role])),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (status, _, _) = call(
        &s,
        "DELETE",
        &format!("{sm}/realm"),
        Some(&t),
        Some(json!([buyer])),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(get(&s, &t, &sm).await, json!({}));
    let claims = ann_token(&s).await;
    assert!(claims["resource_access"].get("api").is_none(), "{claims}");
    // The mapping survives an export as Keycloak writes it (`clientScope` entries).
    let (status, _, _) = call(
        &s,
        "POST",
        &format!("{sm}/clients/{api}"),
        Some(&t),
        Some(json!([admin_role])),
    )
    .await;
    assert_eq!(status, 204);
    drop(s);
    let exported = data.export("shop");
    let entries = exported["clientScopeMappings"]["api"].as_array().unwrap();
    assert!(
        entries
            .iter()
            .any(|m| m["clientScope"] == "api-access" && m["roles"] == json!(["admin"])),
        "{entries:?}"
    );
    data.cleanup().await;
}

/// A client's own scope mappings: `/composite` and `/available` follow Keycloak's `hasScope`
/// (a client without full scope has its mappings, their composites and its own roles).
#[tokio::test]
async fn client_scope_mappings_composite_and_available() {
    let (data, s, t) = shop_server().await;
    let api = client_uuid(&s, &t, "api").await;
    let app = client_uuid(&s, &t, "app").await;
    let sm = format!("{R}/clients/{app}/scope-mappings");
    let admin_role = get(&s, &t, &format!("{R}/clients/{api}/roles/admin")).await;
    assert_eq!(
        get(&s, &t, &format!("{sm}/clients/{api}/composite")).await,
        json!([])
    );
    let (status, body, _) = call(
        &s,
        "POST",
        &format!("{sm}/clients/{api}"),
        Some(&t),
        Some(json!([admin_role])),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(
        names(&get(&s, &t, &format!("{sm}/clients/{api}/composite")).await),
        ["admin", "read"]
    );
    assert_eq!(
        get(&s, &t, &format!("{sm}/clients/{api}/available")).await,
        json!([])
    );
    // With full scope every role is in scope.
    let (status, body, _) = call(
        &s,
        "PUT",
        &format!("{R}/clients/{app}"),
        Some(&t),
        Some(json!({"clientId": "app", "fullScopeAllowed": true})),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let realm_composite = get(&s, &t, &format!("{sm}/realm/composite")).await;
    assert!(names(&realm_composite).contains(&"buyer".to_string()));
    assert_eq!(
        get(&s, &t, &format!("{sm}/realm/available")).await,
        json!([])
    );
    data.cleanup().await;
}

/// A group's effective client roles include those of its parent groups and their composites.
#[tokio::test]
async fn group_composite_client_roles() {
    let (data, s, t) = shop_server().await;
    let api = client_uuid(&s, &t, "api").await;
    let staff = get(&s, &t, &format!("{R}/groups?search=staff")).await;
    let staff_id = staff[0]["id"].as_str().unwrap().to_string();
    let night = get(&s, &t, &format!("{R}/groups/{staff_id}/children")).await;
    let night_id = night[0]["id"].as_str().unwrap().to_string();

    let g = format!("{R}/groups/{staff_id}/role-mappings/clients/{api}");
    assert_eq!(names(&get(&s, &t, &g).await), ["admin"]);
    assert_eq!(
        names(&get(&s, &t, &format!("{g}/composite")).await),
        ["admin", "read"]
    );
    assert_eq!(
        names(&get(&s, &t, &format!("{g}/available")).await),
        ["read"]
    );

    let n = format!("{R}/groups/{night_id}/role-mappings/clients/{api}");
    assert_eq!(get(&s, &t, &n).await, json!([]));
    assert_eq!(
        names(&get(&s, &t, &format!("{n}/composite")).await),
        ["admin", "read"]
    );
    let full = get(&s, &t, &format!("{n}/composite?briefRepresentation=false")).await;
    assert_eq!(
        named(&full, "read")["attributes"],
        json!({"level": ["1", "2"]})
    );
    assert!(named(&get(&s, &t, &format!("{n}/composite")).await, "read")
        .get("attributes")
        .is_none());
    assert_eq!(
        names(&get(&s, &t, &format!("{n}/available")).await),
        ["admin", "read"]
    );
    let r = format!("{R}/groups/{night_id}/role-mappings/realm");
    assert_eq!(get(&s, &t, &format!("{r}/composite")).await, json!([]));
    assert!(names(&get(&s, &t, &format!("{r}/available")).await).contains(&"buyer".to_string()));

    let (status, body, _) = call(
        &s,
        "GET",
        &format!("{R}/groups/{night_id}/role-mappings/clients/nope/composite"),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"].clone()),
        (404, json!("Client not found"))
    );
    data.cleanup().await;
}

/// A multipart/form-data body of text fields, as python-keycloak's `MultipartEncoder` sends.
fn multipart(fields: &[(&str, &str)]) -> (String, String) {
    let boundary = "----portcullis-test-boundary".to_string();
    let mut body = String::new();
    for (k, v) in fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(s: &TestServer, t: &str, path: &str, fields: &[(&str, &str)]) -> (u16, Value) {
    let (ct, body) = multipart(fields);
    let r = client()
        .post(s.url(path))
        .bearer_auth(t)
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn pem_of(base64_der: &str) -> String {
    let lines: Vec<&str> = base64_der
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----",
        lines.join("\n")
    )
}

/// A `client_credentials` request of `signer` authenticated by a client assertion signed with
/// the RSA key `pkcs8` (no `kid`: the client's certificate is the key).
async fn assert_with(s: &TestServer, pkcs8: &[u8]) -> (u16, Value) {
    let pkcs1 = portcullis::crypto::der::rsa_pkcs8_to_pkcs1(pkcs8).unwrap();
    let token_url = s.url("/realms/shop/protocol/openid-connect/token");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let jwt = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &json!({"iss": "signer", "sub": "signer", "aud": token_url,
                "jti": uuid::Uuid::new_v4().to_string(), "exp": now + 60, "iat": now}),
        &jsonwebtoken::EncodingKey::from_rsa_der(&pkcs1),
    )
    .unwrap();
    let (status, body, _) = post_form(
        &token_url,
        None,
        &[
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &jwt),
        ],
    )
    .await;
    (status, body["error"].clone())
}

/// `certificates/jwt.credential`: empty at first; `generate` keeps a key pair whose private
/// key then signs accepted client assertions; an uploaded PEM certificate replaces it (the
/// old key no longer works, the new one does); bad uploads and Java keystores are refused
/// without changing anything; the keystore download answers Keycloak's checks.
#[tokio::test]
async fn client_certificates_generate_upload_and_authenticate() {
    let (data, s, t) = shop_server().await;
    let (status, body, headers) = call(
        &s,
        "POST",
        &format!("{R}/clients"),
        Some(&t),
        Some(
            json!({"clientId": "signer", "clientAuthenticatorType": "client-jwt",
                    "serviceAccountsEnabled": true, "publicClient": false}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = headers["location"]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let certs = format!("{R}/clients/{id}/certificates/jwt.credential");
    assert_eq!(get(&s, &t, &certs).await, json!({}));
    let (status, body, _) = call(
        &s,
        "GET",
        &format!("{R}/clients/nope/certificates/jwt.credential"),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"].clone()),
        (404, json!("Could not find client"))
    );

    // Generated: the answer is what GET shows and what the client attributes hold.
    let (status, generated, _) =
        call(&s, "POST", &format!("{certs}/generate"), Some(&t), None).await;
    assert_eq!(status, 200, "{generated}");
    let private_a = generated["privateKey"].as_str().unwrap().to_string();
    let cert_a = generated["certificate"].as_str().unwrap().to_string();
    assert_eq!(get(&s, &t, &certs).await, generated);
    let c = get(&s, &t, &format!("{R}/clients/{id}")).await;
    assert_eq!(
        c["attributes"]["jwt.credential.certificate"],
        cert_a.as_str()
    );
    let der_a =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &private_a).unwrap();
    assert_eq!(assert_with(&s, &der_a).await.0, 200);

    // Uploaded: a certificate of another key.
    let (pkcs8_b, cert_b) = portcullis::crypto::client_cert::generate_rsa("signer").unwrap();
    let cert_b64 = portcullis::crypto::b64(&cert_b);
    let (status, body) = upload(
        &s,
        &t,
        &format!("{certs}/upload-certificate"),
        &[
            ("keystoreFormat", "Certificate PEM"),
            ("file", &pem_of(&cert_b64)),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"certificate": cert_b64}));
    assert_eq!(get(&s, &t, &certs).await, json!({"certificate": cert_b64}));
    let (status, error) = assert_with(&s, &der_a).await;
    assert_eq!((status, error), (400, json!("invalid_client")));
    assert_eq!(assert_with(&s, &pkcs8_b).await.0, 200);

    // Refused, and nothing changed.
    for (fields, needle) in [
        (
            vec![
                ("keystoreFormat", "Certificate PEM"),
                (
                    "file",
                    "-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----",
                ),
            ],
            "invalid certificate",
        ),
        (
            vec![("keystoreFormat", "JKS"), ("keyAlias", "a"), ("file", "xx")],
            "\"JKS\" is not supported",
        ),
        (vec![("file", "xx")], "keystoreFormat cannot be null"),
        (
            vec![("keystoreFormat", "Certificate PEM")],
            "file cannot be empty",
        ),
    ] {
        let (status, body) = upload(&s, &t, &format!("{certs}/upload"), &fields).await;
        assert_eq!(status, 400, "{body}");
        assert!(body["error"].as_str().unwrap().contains(needle), "{body}");
    }
    let (status, body, _) = call(
        &s,
        "POST",
        &format!("{certs}/upload"),
        Some(&t),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(get(&s, &t, &certs).await, json!({"certificate": cert_b64}));

    // Download: Keycloak's checks, then the unsupported keystore named.
    let dl = format!("{certs}/download");
    let (status, body, _) = call(&s, "POST", &dl, Some(&t), Some(json!({"format": "PEM"}))).await;
    assert_eq!(
        (status, body["error"].clone()),
        (406, json!("Only support jks or pkcs12 format."))
    );
    let (status, body, _) = call(&s, "POST", &dl, Some(&t), Some(json!({"format": "JKS"}))).await;
    assert_eq!(
        (status, body["error"].clone()),
        (
            400,
            json!("Need to specify a store password for jks download")
        )
    );
    let (status, body, _) = call(
        &s,
        "POST",
        &dl,
        Some(&t),
        Some(json!({"format": "PKCS12", "storePassword": "x"})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("\"PKCS12\" is not supported"),
        "{body}"
    );
    let (status, body, _) = call(
        &s,
        "POST",
        &format!("{R}/clients/{id}/certificates/saml.signing/download"),
        Some(&t),
        Some(json!({"format": "JKS"})),
    )
    .await;
    assert_eq!(
        (status, body["error"].clone()),
        (404, json!("keypair not generated for client"))
    );
    data.cleanup().await;
}

async fn shop_password_grant(
    s: &TestServer,
    (client_id, secret): (&str, &str),
    (user, password): (&str, &str),
    scope: &str,
) -> Value {
    let (status, body) = password_grant(
        s,
        "shop",
        client_id,
        Some(secret),
        user,
        password,
        &[("scope", scope)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn refresh(s: &TestServer, client: (&str, &str), token: &Value) -> (u16, Value) {
    let (status, body, _) = post_form(
        &s.url("/realms/shop/protocol/openid-connect/token"),
        Some(client),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", token["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    (status, body)
}

/// `users/{id}/consents`: a recorded consent, and a client holding an offline token shown as
/// an `Offline Token` grant; revoking a consent ends the client's part in the user's
/// sessions (its refresh token stops working), revoking an offline token ends the offline
/// session; Keycloak's 404s for unknown users, clients and nothing to revoke.
#[tokio::test]
async fn consents_list_and_revoke() {
    let mut realm = shop();
    realm["clients"].as_array_mut().unwrap().push(json!(
        {"clientId": "offline-app", "secret": "offline-secret", "directAccessGrantsEnabled": true}
    ));
    realm["users"].as_array_mut().unwrap().push(json!(
        {"username": "bob", "enabled": true, "email": "bob@example.com", "firstName": "B", "lastName": "Ob",
         "credentials": [{"type": "password", "value": "bob-password"}],
         "realmRoles": ["offline_access"],
         "clientConsents": [{"clientId": "app", "grantedClientScopes": ["email"],
                             "createdDate": 1700000000000_i64, "lastUpdatedDate": 1700000001000_i64}]}
    ));
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let s = start_with(&data, &[realm]).await;
    let t = admin_token(&s).await;
    let bob = get(&s, &t, &format!("{R}/users?username=bob&exact=true")).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let offline_uuid = client_uuid(&s, &t, "offline-app").await;
    let consents = format!("{R}/users/{bob}/consents");

    assert_eq!(
        get(&s, &t, &consents).await,
        json!([{"clientId": "app", "grantedClientScopes": ["email"], "createdDate": 1700000000000_i64,
                "lastUpdatedDate": 1700000001000_i64, "additionalGrants": []}])
    );
    let app = ("app", "app-secret");
    let offline_app = ("offline-app", "offline-secret");
    let online = shop_password_grant(&s, app, ("bob", "bob-password"), "openid").await;
    let offline = shop_password_grant(
        &s,
        offline_app,
        ("bob", "bob-password"),
        "openid offline_access",
    )
    .await;
    assert_eq!(
        jwt::payload(offline["refresh_token"].as_str().unwrap())["typ"],
        "Offline"
    );
    let listed = get(&s, &t, &consents).await;
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    assert_eq!(
        listed[1],
        json!({"clientId": "offline-app", "grantedClientScopes": [], "createdDate": null,
               "lastUpdatedDate": null,
               "additionalGrants": [{"client": offline_uuid, "key": "Offline Token"}]})
    );

    // Errors first: nothing changes.
    for (method, path, error) in [
        ("GET", format!("{R}/users/nope/consents"), "User not found"),
        (
            "DELETE",
            format!("{R}/users/nope/consents/app"),
            "User not found",
        ),
        (
            "DELETE",
            format!("{consents}/no-such-client"),
            "Client not found",
        ),
        (
            "DELETE",
            format!("{consents}/api"),
            "Consent nor offline token not found",
        ),
    ] {
        let (status, body, _) = call(&s, method, &path, Some(&t), None).await;
        assert_eq!(
            (status, body["error"].clone()),
            (404, json!(error)),
            "{method} {path}"
        );
    }
    assert_eq!(get(&s, &t, &consents).await, listed);

    // The consent of app: gone, and app's refresh token with it.
    assert_eq!(refresh(&s, app, &online).await.0, 200);
    let (status, body, _) = call(&s, "DELETE", &format!("{consents}/app"), Some(&t), None).await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = refresh(&s, app, &online).await;
    assert_eq!(
        (status, body["error"].clone()),
        (400, json!("invalid_grant")),
        "{body}"
    );
    assert_eq!(get(&s, &t, &consents).await, json!([listed[1]]));

    // The offline token of offline-app: its offline session ends.
    let (status, _, _) = call(
        &s,
        "DELETE",
        &format!("{consents}/offline-app"),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, body) = refresh(&s, offline_app, &offline).await;
    assert_eq!(
        (status, body["error"].clone()),
        (400, json!("invalid_grant")),
        "{body}"
    );
    assert_eq!(get(&s, &t, &consents).await, json!([]));
    let (status, body, _) = call(
        &s,
        "DELETE",
        &format!("{consents}/offline-app"),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"].clone()),
        (404, json!("Consent nor offline token not found"))
    );
    data.cleanup().await;
}

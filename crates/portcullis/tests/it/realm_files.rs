//! Keycloak realm files: import, export, round trips of every fixture, defaults for partial
//! files, and bad files that fail with their JSON path and change nothing.

use serde_json::{json, Value};

use crate::support::*;

fn read(p: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// Import a file, export it, import the export into a fresh store, export again: the two
/// exports are equal and the first contains everything of the original file.
async fn round_trip(backend: Backend, file: &std::path::Path) {
    let original = read(file);
    let realm = original["realm"].as_str().unwrap();
    let Some(first) = Data::new(backend).await else {
        return;
    };
    let o = first.cli("import", &["--file", file.to_str().unwrap()]);
    assert!(
        o.status.success(),
        "{}: {}",
        file.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    let export1 = first.export(realm);
    if let Err(diff) = contained(&original, &export1, "$") {
        panic!(
            "{}: the export lost or changed data: {diff}",
            file.display()
        );
    }
    let e1_path = first.dir.path().join("e1.json");
    std::fs::write(&e1_path, serde_json::to_vec_pretty(&export1).unwrap()).unwrap();
    let second = Data::new(backend).await.unwrap();
    let o = second.cli("import", &["--file", e1_path.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let export2 = second.export(realm);
    assert_eq!(
        export1,
        export2,
        "{}: export → import → export is stable",
        file.display()
    );
    first.cleanup().await;
    second.cleanup().await;
}

#[tokio::test]
async fn every_fixture_round_trips_on_sqlite() {
    for f in fixture_files() {
        round_trip(Backend::Sqlite, &f).await;
    }
}

#[tokio::test]
async fn every_fixture_round_trips_on_postgres() {
    for f in fixture_files() {
        round_trip(Backend::Postgres, &f).await;
    }
}

#[tokio::test]
async fn hashed_credentials_and_user_data_survive() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let f = fixtures_dir().join("kc26.1.4-freva-users-argon2.json");
    let original = read(&f);
    assert!(data
        .cli("import", &["--file", f.to_str().unwrap()])
        .status
        .success());
    let export = data.export(original["realm"].as_str().unwrap());
    let users = export["users"].as_array().unwrap();
    for u in original["users"].as_array().unwrap() {
        let e = users
            .iter()
            .find(|x| x["username"] == u["username"])
            .unwrap();
        assert_eq!(
            e["credentials"], u["credentials"],
            "hash kept byte for byte"
        );
        assert_eq!(e["attributes"], u["attributes"]);
        assert_eq!(e["id"], u["id"]);
    }
}

#[tokio::test]
async fn partial_realm_gets_keycloak_defaults_and_master_gets_its_admin_client() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let file = data.dir.path().join("tenant.json");
    std::fs::write(
        &file,
        json!({
            "realm": "tenant-a",
            "enabled": true,
            "clients": [{"clientId": "web", "publicClient": true, "redirectUris": ["https://app.example.com/*"]}],
            "users": [{"username": "Alice", "firstName": "Alice", "lastName": "Tester", "email": "Alice@example.com", "enabled": true, "credentials": [{"type": "password", "value": "pw-alice", "temporary": true}]}]
        })
        .to_string(),
    )
    .unwrap();
    let o = data.cli("import", &["--file", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = data.export("tenant-a");
    let client_ids: Vec<&str> = r["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["clientId"].as_str().unwrap())
        .collect();
    for builtin in [
        "web",
        "account",
        "account-console",
        "admin-cli",
        "broker",
        "realm-management",
        "security-admin-console",
    ] {
        assert!(client_ids.contains(&builtin), "{builtin} in {client_ids:?}");
    }
    let scopes: Vec<&str> = r["clientScopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for s in [
        "profile",
        "email",
        "roles",
        "web-origins",
        "acr",
        "basic",
        "address",
        "phone",
        "offline_access",
        "microprofile-jwt",
        "organization",
    ] {
        assert!(scopes.contains(&s), "scope {s} in {scopes:?}");
    }
    let realm_roles: Vec<&str> = r["roles"]["realm"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    for role in [
        "offline_access",
        "uma_authorization",
        "default-roles-tenant-a",
    ] {
        assert!(realm_roles.contains(&role), "{role}");
    }
    assert_eq!(r["defaultRole"]["name"], "default-roles-tenant-a");
    assert!(r["roles"]["client"]["realm-management"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["name"] == "realm-admin"));
    let web = r["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["clientId"] == "web")
        .unwrap();
    assert!(
        web["defaultClientScopes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "profile"),
        "new clients get the realm's default scopes"
    );
    assert_eq!(r["accessTokenLifespan"], 300);
    // Users: name lower-cased, password hashed, temporary → UPDATE_PASSWORD.
    let alice = &r["users"][0];
    assert_eq!(alice["username"], "alice");
    assert!(alice["credentials"][0].get("value").is_none());
    assert!(alice["credentials"][0]["secretData"].is_string());
    assert!(!r.to_string().contains("pw-alice"));
    assert!(alice["requiredActions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == "UPDATE_PASSWORD"));
    // Master gets the cross-realm admin client; it has master's own settings.
    let master = data.export("master");
    assert_eq!(master["accessTokenLifespan"], 60);
    assert!(
        !master["clients"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["clientId"] == "realm-management"),
        "master has no realm-management client"
    );
    assert!(master["clients"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["clientId"] == "master-realm"));
    assert!(master["clients"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["clientId"] == "tenant-a-realm"));
    let admin = master["roles"]["realm"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "admin")
        .unwrap();
    assert!(admin["composites"]["client"]["tenant-a-realm"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x == "manage-users"));
}

/// The realm files written in the seed documents (`tests/fixtures/seed-realms`), as written
/// there: seed 000's `realm/realm-organizations.json` and seed 003's declarative realm of
/// section 5.2.
#[tokio::test]
async fn seed_realm_files_round_trip() {
    let seeds = fixtures_root().join("seed-realms");
    for file in [
        "seed-000-realm-organizations.json",
        "seed-003-barbican-realm.json",
    ] {
        round_trip(Backend::Sqlite, &seeds.join(file)).await;
    }
}

#[tokio::test]
async fn import_follows_keycloaks_rules_for_what_is_absent() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let file = data.dir.path().join("r.json");
    std::fs::write(
        &file,
        json!({"realm": "CX-Test", "clients": [
            {"clientId": "account"},
            {"clientId": "only-default", "defaultClientScopes": ["profile"]},
            {"clientId": "api", "bearerOnly": true},
            {"clientId": "consent", "consentRequired": true}
        ]})
        .to_string(),
    )
    .unwrap();
    let o = data.cli("import", &["--file", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = data.export("CX-Test");
    assert_eq!(
        r["defaultRole"]["name"], "default-roles-cx-test",
        "default role named in lower case"
    );
    let client = |id: &str| {
        r["clients"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["clientId"] == id)
            .cloned()
    };
    assert!(
        client("account-console").is_none(),
        "account-console comes only with a created account client"
    );
    assert_eq!(
        client("only-default").unwrap()["optionalClientScopes"],
        json!([]),
        "one list given clears the other"
    );
    assert!(
        client("api").unwrap()["defaultClientScopes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "profile"),
        "bearer-only clients get default scopes too"
    );
    let consent = client("consent").unwrap();
    assert_eq!(consent["fullScopeAllowed"], false);
    assert_eq!(consent["nodeReRegistrationTimeout"], -1);
    assert_eq!(consent["attributes"]["post.logout.redirect.uris"], "+");
}

#[tokio::test]
async fn confidential_clients_get_a_secret_and_other_algorithms_get_keys() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let file = data.dir.path().join("r.json");
    std::fs::write(
        &file,
        json!({"realm": "es", "defaultSignatureAlgorithm": "ES256", "clients": [{"clientId": "conf"}, {"clientId": "pub", "publicClient": true}]}).to_string(),
    )
    .unwrap();
    assert!(data
        .cli("import", &["--file", file.to_str().unwrap()])
        .status
        .success());
    let r = data.export("es");
    let conf = r["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["clientId"] == "conf")
        .unwrap();
    let secret = conf["secret"].as_str().unwrap();
    assert_eq!(secret.len(), 32);
    assert!(secret.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(conf["standardFlowEnabled"], true);
    let public = r["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["clientId"] == "pub")
        .unwrap();
    assert!(public.get("secret").is_none());
    let providers: Vec<&str> = r["components"]["org.keycloak.keys.KeyProvider"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["providerId"].as_str().unwrap())
        .collect();
    for p in [
        "rsa-generated",
        "rsa-enc-generated",
        "hmac-generated",
        "aes-generated",
        "ecdsa-generated",
    ] {
        assert!(providers.contains(&p), "{p} in {providers:?}");
    }
    let server = TestServer::start(&data, "start-dev", &[], &[]).unwrap();
    let (_, jwks) = get_json(&server.url("/realms/es/protocol/openid-connect/certs")).await;
    let es = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["alg"] == "ES256")
        .unwrap();
    assert_eq!(
        (es["kty"].as_str(), es["crv"].as_str()),
        (Some("EC"), Some("P-256"))
    );
    let (_, doc) = get_json(&server.url("/realms/es/.well-known/openid-configuration")).await;
    assert!(doc["id_token_signing_alg_values_supported"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == "ES256"));
}

fn bad_case(data: &Data, name: &str, content: &str, expect_path: &str) {
    let file = data.dir.path().join(format!("{name}.json"));
    std::fs::write(&file, content).unwrap();
    let o = data.cli("import", &["--file", file.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(!o.status.success(), "{name} should fail");
    assert!(
        err.contains(expect_path),
        "{name}: expected '{expect_path}' in: {err}"
    );
}

#[tokio::test]
async fn bad_files_fail_with_their_path_and_change_nothing() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    // An existing realm that a failed override import must leave intact.
    let good = data.dir.path().join("good.json");
    std::fs::write(
        &good,
        json!({"realm": "shop", "clients": [{"clientId": "keep-me"}]}).to_string(),
    )
    .unwrap();
    assert!(data
        .cli("import", &["--file", good.to_str().unwrap()])
        .status
        .success());
    let before = data.export("shop");

    bad_case(
        &data,
        "not-json",
        "{\"realm\": \"shop\", ",
        "invalid JSON at line 1",
    );
    bad_case(
        &data,
        "dup-client",
        &json!({"realm": "shop", "clients": [{"clientId": "a"}, {"clientId": "a"}]}).to_string(),
        "clients[1].clientId",
    );
    bad_case(
        &data,
        "bad-role",
        &json!({"realm": "shop", "users": [{"username": "u", "realmRoles": ["ghost"]}]})
            .to_string(),
        "users[0].realmRoles[0]",
    );
    bad_case(
        &data,
        "bad-scope",
        &json!({"realm": "shop", "scopeMappings": [{"clientScope": "nope", "roles": []}]})
            .to_string(),
        "scopeMappings[0].clientScope",
    );
    bad_case(
        &data,
        "bad-composite",
        &json!({"realm": "shop", "roles": {"realm": [{"name": "r", "composites": {"realm": ["ghost"]}}]}}).to_string(),
        "roles.realm[0].composites.realm[0]",
    );
    bad_case(
        &data,
        "bad-group",
        &json!({"realm": "shop", "users": [{"username": "u", "groups": ["/nowhere"]}]}).to_string(),
        "users[0].groups[0]",
    );
    bad_case(&data, "bad-redirect", &json!({"realm": "shop", "clients": [{"clientId": "c", "redirectUris": ["https://ok/*", "javascript:alert(1)"]}]}).to_string(), "clients[0].redirectUris[1]");
    bad_case(
        &data,
        "bad-type",
        &json!({"realm": "shop", "enabled": "yes"}).to_string(),
        "enabled",
    );
    bad_case(&data, "bad-hash", &json!({"realm": "shop", "users": [{"username": "u", "firstName": "U", "lastName": "Tester", "email": "u@example.com", "credentials": [{"type": "password", "secretData": "{}", "credentialData": "{\"algorithm\":\"md5\"}"}]}]}).to_string(), "users[0].credentials[0]");
    bad_case(
        &data,
        "no-name",
        &json!({"enabled": true}).to_string(),
        "realm",
    );

    assert_eq!(
        data.export("shop"),
        before,
        "failed imports changed nothing"
    );
    // A half-good directory import is all or nothing per realm file: the bad one fails the command.
    let o = data.cli(
        "export",
        &[
            "--realm",
            "ghost",
            "--file",
            data.dir.path().join("x.json").to_str().unwrap(),
        ],
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("ghost"));
}

#[tokio::test]
async fn import_realm_at_start_is_idempotent_and_override_false_skips() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    std::fs::write(
        data.import_dir().join("a.json"),
        json!({"realm": "alpha", "attributes": {"v": "1"}}).to_string(),
    )
    .unwrap();
    let s = TestServer::start(&data, "start-dev", &["--import-realm"], &[]).unwrap();
    drop(s);
    let first = data.export("alpha");
    // Changed file, restart: the existing realm is skipped, not overwritten.
    std::fs::write(
        data.import_dir().join("a.json"),
        json!({"realm": "alpha", "attributes": {"v": "2"}}).to_string(),
    )
    .unwrap();
    let s = TestServer::start(&data, "start-dev", &["--import-realm"], &[]).unwrap();
    assert!(s.logs().contains("already exists"), "{}", s.logs());
    drop(s);
    assert_eq!(data.export("alpha"), first);
    // Offline import: --override false skips, the default (true) replaces.
    let path = data.import_dir().join("a.json");
    let o = data.cli(
        "import",
        &["--file", path.to_str().unwrap(), "--override", "false"],
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("skipped"));
    assert_eq!(data.export("alpha")["attributes"]["v"], "1");
    let o = data.cli("import", &["--file", path.to_str().unwrap()]);
    assert!(o.status.success());
    assert_eq!(data.export("alpha")["attributes"]["v"], "2");
    // Export of every realm to a directory.
    let dir = data.dir.path().join("out");
    assert!(data
        .cli("export", &["--dir", dir.to_str().unwrap()])
        .status
        .success());
    assert!(dir.join("alpha-realm.json").is_file() && dir.join("master-realm.json").is_file());
}

/// Jackson coerces scalars, so Keycloak realm files and Admin API bodies carry `"300"` for a
/// number or `"true"` for a boolean: they are read as Keycloak reads them, and what cannot be
/// read is refused naming the field.
#[tokio::test]
async fn scalars_written_as_strings_read_as_keycloak_reads_them() {
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let realm = json!({
        "realm": "coerced", "enabled": "true", "accessTokenLifespan": "120",
        "clients": [{"clientId": "svc", "secret": "svc-secret", "serviceAccountsEnabled": true,
                     "publicClient": false, "bearerOnly": "false"}]
    });
    let server = start_with(&data, &[realm]).await;
    let (status, body, _) = post_form(
        &server.url("/realms/coerced/protocol/openid-connect/token"),
        Some(("svc", "svc-secret")),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["expires_in"], 120,
        "the lifespan written as a string applies"
    );
    let admin = admin_token(&server).await;
    let (status, rep, _) = call(&server, "GET", "/admin/realms/coerced", Some(&admin), None).await;
    assert_eq!(status, 200);
    assert_eq!(
        (&rep["enabled"], &rep["accessTokenLifespan"]),
        (&json!(true), &json!(120))
    );
    let (status, err, _) = call(
        &server,
        "PUT",
        "/admin/realms/coerced",
        Some(&admin),
        Some(json!({"accessTokenLifespan": "five minutes"})),
    )
    .await;
    assert_eq!(status, 400, "{err}");
    assert!(err.to_string().contains("accessTokenLifespan"), "{err}");
}

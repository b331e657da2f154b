//! The declarative user profile through the Admin API: the effective configuration, storing a
//! new one (and refusing a bad one without writing), the metadata, and users written through
//! the Admin API validated against it, with Keycloak's field errors and unmanaged-attribute
//! policy.

use serde_json::{json, Value};

use crate::support::*;

const PROFILE: &str = "/admin/realms/shop/users/profile";

async fn server() -> (Data, TestServer, String) {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let s = start_with(&data, &[json!({"realm": "shop", "enabled": true})]).await;
    let token = admin_token(&s).await;
    (data, s, token)
}

async fn get(s: &TestServer, t: &str, path: &str) -> Value {
    let (status, body, _) = call(s, "GET", path, Some(t), None).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

async fn create_user(s: &TestServer, t: &str, body: Value) -> (u16, Value) {
    let (status, body, _) = call(s, "POST", "/admin/realms/shop/users", Some(t), Some(body)).await;
    (status, body)
}

#[tokio::test]
async fn the_profile_is_keycloaks_default_until_replaced_and_a_bad_one_changes_nothing() {
    let (_data, s, t) = server().await;
    let config = get(&s, &t, PROFILE).await;
    let names: Vec<&str> = config["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["username", "email", "firstName", "lastName"]);
    assert_eq!(config["groups"][0]["name"], "user-metadata");
    assert!(config.get("unmanagedAttributePolicy").is_none(), "{config}");

    // Bad configurations: each refused with Keycloak's message, none stored.
    for (bad, message) in [
        (
            json!({"groups": []}),
            "[UserProfile configuration without 'attributes' section is not allowed]",
        ),
        (
            json!({"attributes": [{"name": "username"}]}),
            "[The attribute 'email' can not be removed]",
        ),
        (
            json!({"attributes": [{"name": "username"}, {"name": "email"}, {"name": "x", "validations": {"nope": {}}}]}),
            "[Validator 'nope' defined for attribute 'x' doesn't exist]",
        ),
    ] {
        let (status, body, _) = call(&s, "PUT", PROFILE, Some(&t), Some(bad)).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["errorMessage"], message);
    }
    let (status, body, _) = call(
        &s,
        "PUT",
        PROFILE,
        Some(&t),
        Some(json!({"attributes": [], "unmanagedAttributePolicy": "SOMETIMES"})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(get(&s, &t, PROFILE).await, config);

    // python-keycloak's test: append an attribute, PUT the whole configuration back.
    let mut next = config.clone();
    next["attributes"].as_array_mut().unwrap().push(json!({
        "name": "surname", "displayName": "", "validations": {}, "annotations": {},
        "permissions": {"view": [], "edit": ["admin"]}, "multivalued": false,
    }));
    let (status, body, _) = call(&s, "PUT", PROFILE, Some(&t), Some(next.clone())).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["name"] == "surname"));
    let stored = get(&s, &t, PROFILE).await;
    assert_eq!(stored["attributes"][4]["name"], "surname");
    // Stored as Keycloak stores it: a component, exported with the realm.
    let (status, export, _) = call(
        &s,
        "POST",
        "/admin/realms/shop/partial-export",
        Some(&t),
        None,
    )
    .await;
    assert_eq!(status, 200, "{export}");
    let text = export["components"]["org.keycloak.userprofile.UserProfileProvider"][0]["config"]
        ["kc.user.profile.config"][0]
        .as_str()
        .unwrap()
        .to_string();
    assert!(text.contains("surname"), "{text}");

    let meta = get(&s, &t, &format!("{PROFILE}/metadata")).await;
    let surname = meta["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "surname")
        .unwrap();
    assert_eq!(surname["readOnly"], false);
    assert_eq!(meta["attributes"][0]["validators"]["length"]["min"], 3);
}

#[tokio::test]
async fn users_written_by_an_administrator_are_validated_against_the_profile() {
    let (_data, s, t) = server().await;
    // One error: flat; several: wrapped. Nothing is created.
    let (status, body) = create_user(&s, &t, json!({"username": "amy", "email": "nope"})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body,
        json!({"field": "email", "errorMessage": "error-invalid-email", "params": ["email", "nope"]})
    );
    let (status, body) = create_user(
        &s,
        &t,
        json!({"username": "amy", "email": "nope", "firstName": "<script>"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][1]["field"], "firstName");
    assert_eq!(
        body["errors"][1]["errorMessage"],
        "error-person-name-invalid-character"
    );
    let (status, body) = create_user(&s, &t, json!({"username": "a b"})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errorMessage"], "error-username-invalid-character");
    let users = get(&s, &t, "/admin/realms/shop/users").await;
    assert_eq!(users, json!([]));

    // Unmanaged attributes are not kept under the default policy, as in Keycloak 24+.
    let (status, body) = create_user(
        &s,
        &t,
        json!({"username": "amy", "email": "amy@example.org", "attributes": {"dept": ["x"]}}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let amy = &get(&s, &t, "/admin/realms/shop/users?username=amy&exact=true").await[0];
    assert!(amy.get("attributes").is_none(), "{amy}");
    let id = amy["id"].as_str().unwrap().to_string();

    // Declared, admin-editable attributes are kept and validated; with the policy enabled,
    // unmanaged ones are kept too.
    let mut config = get(&s, &t, PROFILE).await;
    config["attributes"].as_array_mut().unwrap().push(json!({
        "name": "dept", "permissions": {"view": ["admin"], "edit": ["admin"]},
        "validations": {"options": {"options": ["sales", "ops"]}},
    }));
    config["unmanagedAttributePolicy"] = json!("ENABLED");
    let (status, body, _) = call(&s, "PUT", PROFILE, Some(&t), Some(config)).await;
    assert_eq!(status, 200, "{body}");
    let user = format!("/admin/realms/shop/users/{id}");
    let (status, body, _) = call(
        &s,
        "PUT",
        &user,
        Some(&t),
        Some(json!({"attributes": {"dept": ["hr"]}})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body,
        json!({"field": "dept", "errorMessage": "error-invalid-value", "params": ["dept", "hr"]})
    );
    let (status, body, _) = call(
        &s,
        "PUT",
        &user,
        Some(&t),
        Some(json!({"attributes": {"dept": ["ops"], "badge": ["7"]}})),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let amy = get(&s, &t, &format!("{user}?userProfileMetadata=true")).await;
    assert_eq!(amy["attributes"], json!({"dept": ["ops"], "badge": ["7"]}));
    assert!(amy["userProfileMetadata"]["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["name"] == "dept"));
}

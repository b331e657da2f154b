//! A user's credentials through the Admin API: listed without secrets, labelled, reordered,
//! disabled by type (OTP devices go, the password stays), and the user representation's `totp`
//! and `disableableCredentialTypes` following them.

use serde_json::{json, Value};

use crate::support::*;

fn otp(label: &str) -> Value {
    json!({
        "type": "otp", "userLabel": label,
        "secretData": json!({"value": "a-secret-of-twenty!!"}).to_string(),
        "credentialData": json!({"subType": "totp", "digits": 6, "counter": 0, "period": 30, "algorithm": "HmacSHA1"}).to_string()
    })
}

async fn user_path(s: &TestServer, t: &str) -> String {
    let (_, users, _) = call(
        s,
        "GET",
        "/admin/realms/shop/users?username=alice&exact=true",
        Some(t),
        None,
    )
    .await;
    format!(
        "/admin/realms/shop/users/{}",
        users[0]["id"].as_str().unwrap()
    )
}

async fn credentials(s: &TestServer, t: &str, user: &str) -> Vec<Value> {
    let (status, list, _) = call(s, "GET", &format!("{user}/credentials"), Some(t), None).await;
    assert_eq!(status, 200, "{list}");
    list.as_array().unwrap().clone()
}

fn labels(list: &[Value]) -> Vec<String> {
    list.iter()
        .map(|c| {
            c["userLabel"]
                .as_str()
                .unwrap_or(c["type"].as_str().unwrap())
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn credentials_are_labelled_reordered_and_disabled_by_type() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let realm = json!({"realm": "shop", "enabled": true, "users": [
        {"username": "alice", "firstName": "Alice", "lastName": "Tester", "email": "alice@example.com", "enabled": true, "credentials": [
            {"type": "password", "value": "alice-pw"}, otp("Phone"), otp("Tablet")]}
    ]});
    let s = start_with(&data, &[realm]).await;
    let t = admin_token(&s).await;
    let user = user_path(&s, &t).await;

    let list = credentials(&s, &t, &user).await;
    assert_eq!(labels(&list), ["password", "Phone", "Tablet"]);
    assert!(
        list.iter().all(|c| c.get("secretData").is_none()),
        "{list:?}"
    );
    let (_, u, _) = call(&s, "GET", &user, Some(&t), None).await;
    assert_eq!(
        (u["totp"].clone(), u["disableableCredentialTypes"].clone()),
        (json!(true), json!(["otp"]))
    );
    let id = |i: usize| list[i]["id"].as_str().unwrap().to_string();

    // A label: text/plain; blank is refused.
    let r = client()
        .put(s.url(&format!("{user}/credentials/{}/userLabel", id(1))))
        .bearer_auth(&t)
        .header("content-type", "text/plain")
        .body("Work phone")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let r = client()
        .put(s.url(&format!("{user}/credentials/{}/userLabel", id(1))))
        .bearer_auth(&t)
        .header("content-type", "text/plain")
        .body("  ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "missingCredentialLabel");
    assert_eq!(
        labels(&credentials(&s, &t, &user).await),
        ["password", "Work phone", "Tablet"]
    );

    // Reordering.
    let (status, _, _) = call(
        &s,
        "POST",
        &format!("{user}/credentials/{}/moveToFirst", id(2)),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        labels(&credentials(&s, &t, &user).await),
        ["Tablet", "password", "Work phone"]
    );
    let (status, _, _) = call(
        &s,
        "POST",
        &format!("{user}/credentials/{}/moveAfter/{}", id(2), id(1)),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        labels(&credentials(&s, &t, &user).await),
        ["password", "Work phone", "Tablet"]
    );
    // Unknown ids: 404 for the moved one, 400 for the anchor; nothing moves.
    let (status, _, _) = call(
        &s,
        "POST",
        &format!("{user}/credentials/nope/moveToFirst"),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _, _) = call(
        &s,
        "POST",
        &format!("{user}/credentials/{}/moveAfter/nope", id(2)),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        labels(&credentials(&s, &t, &user).await),
        ["password", "Work phone", "Tablet"]
    );

    // Deleting one credential; an unknown id is 404 and removes nothing.
    let (status, _, _) = call(
        &s,
        "DELETE",
        &format!("{user}/credentials/nope"),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _, _) = call(
        &s,
        "DELETE",
        &format!("{user}/credentials/{}", id(2)),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        labels(&credentials(&s, &t, &user).await),
        ["password", "Work phone"]
    );

    // Disabling by type: the OTP devices go, the password stays.
    let (status, types, _) = call(
        &s,
        "GET",
        &format!("{user}/configured-user-storage-credential-types"),
        Some(&t),
        None,
    )
    .await;
    assert_eq!((status, types), (200, json!([])));
    let (status, _, _) = call(
        &s,
        "PUT",
        &format!("{user}/disable-credential-types"),
        Some(&t),
        Some(json!(["otp", "password"])),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(labels(&credentials(&s, &t, &user).await), ["password"]);
    let (_, u, _) = call(&s, "GET", &user, Some(&t), None).await;
    assert_eq!(
        (u["totp"].clone(), u["disableableCredentialTypes"].clone()),
        (json!(false), json!([]))
    );
    let r = client()
        .post(s.url("/realms/shop/protocol/openid-connect/token"))
        .form(&[
            ("grant_type", "password"),
            ("client_id", "admin-cli"),
            ("username", "alice"),
            ("password", "alice-pw"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        200,
        "the password still works and no code is asked"
    );
}

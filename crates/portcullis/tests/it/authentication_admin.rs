//! `/admin/realms/{realm}/authentication` through HTTP: flows (list, get, create, copy,
//! update, delete), executions (list, add, sub-flows, requirement, priority, delete),
//! authenticator configs, provider descriptions and required actions, with Keycloak's status
//! codes and error bodies, on SQLite and PostgreSQL; every change is in the stored realm
//! (the CLI export reads it) without the execution ids Keycloak's export lacks.

use serde_json::{json, Value};

use crate::support::*;

const BASE: &str = "/admin/realms/shop/authentication";

struct Ctx {
    s: TestServer,
    t: String,
}

impl Ctx {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value, String) {
        let (status, v, headers) = call(
            &self.s,
            method,
            &format!("{BASE}{path}"),
            Some(&self.t),
            body,
        )
        .await;
        let location = headers
            .get("location")
            .map(|l| l.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, v, location)
    }

    async fn get(&self, path: &str) -> Value {
        let (status, v, _) = self.call("GET", path, None).await;
        assert_eq!(status, 200, "GET {path}: {v}");
        v
    }

    async fn ok(&self, method: &str, path: &str, body: Option<Value>, want: u16) -> String {
        let (status, v, location) = self.call(method, path, body).await;
        assert_eq!(status, want, "{method} {path}: {v}");
        location
    }

    async fn err(&self, method: &str, path: &str, body: Option<Value>, want: u16) -> Value {
        let (status, v, _) = self.call(method, path, body).await;
        assert_eq!(status, want, "{method} {path}: {v}");
        v
    }

    async fn executions(&self, alias: &str) -> Vec<Value> {
        self.get(&format!("/flows/{}/executions", enc(alias)))
            .await
            .as_array()
            .unwrap()
            .clone()
    }

    async fn flow_id(&self, alias: &str) -> String {
        let flows = self.get("/flows").await;
        flows
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["alias"] == alias)
            .unwrap_or_else(|| panic!("no flow {alias} in {flows}"))["id"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

fn enc(s: &str) -> String {
    s.replace(' ', "%20")
}

fn last_segment(location: &str) -> String {
    location.rsplit('/').next().unwrap().to_string()
}

fn keycloak_error(v: &Value, msg: &str) {
    assert_eq!(v["error"], msg, "{v}");
    assert_eq!(
        v["error_description"], "For more on this error consult the server log.",
        "{v}"
    );
}

async fn scenario(backend: Backend) {
    let Some(data) = Data::new(backend).await else {
        return;
    };
    let s = start_with(&data, &[json!({"realm": "shop", "enabled": true})]).await;
    let t = admin_token(&s).await;
    let c = Ctx { s, t };

    // Flows: the top-level ones but `saml ecp`, in Keycloak's shape.
    let flows = c.get("/flows").await;
    let aliases: Vec<&str> = flows
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["alias"].as_str().unwrap())
        .collect();
    for a in [
        "browser",
        "direct grant",
        "registration",
        "reset credentials",
        "clients",
        "first broker login",
        "docker auth",
    ] {
        assert!(aliases.contains(&a), "{a} missing from {aliases:?}");
    }
    assert!(!aliases.contains(&"saml ecp") && !aliases.contains(&"forms"));
    let browser = flows
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["alias"] == "browser")
        .unwrap();
    let mut keys: Vec<&str> = browser
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "alias",
            "authenticationExecutions",
            "builtIn",
            "description",
            "id",
            "providerId",
            "topLevel"
        ]
    );
    assert!(browser["authenticationExecutions"][0].get("id").is_none());
    let browser_id = browser["id"].as_str().unwrap().to_string();
    assert_eq!(
        c.get(&format!("/flows/{browser_id}")).await["alias"],
        "browser"
    );
    let e = c.err("GET", "/flows/bad", None, 404).await;
    keycloak_error(&e, "Could not find flow with id");

    // Create: 201 with Location; a taken alias is 409.
    let loc = c
        .ok(
            "POST",
            "/flows",
            Some(json!({"alias": "mine", "providerId": "basic-flow", "topLevel": true, "description": "my flow"})),
            201,
        )
        .await;
    let mine = last_segment(&loc);
    assert!(loc.ends_with(&format!("{BASE}/flows/{mine}")), "{loc}");
    assert_eq!(c.get(&format!("/flows/{mine}")).await["builtIn"], false);
    let e = c
        .err("POST", "/flows", Some(json!({"alias": "mine"})), 409)
        .await;
    assert_eq!(e, json!({"errorMessage": "Flow mine already exists"}));
    let e = c
        .err("POST", "/flows", Some(json!({"alias": ""})), 409)
        .await;
    assert_eq!(
        e,
        json!({"errorMessage": "Failed to create flow with empty alias name"})
    );
    let e = c
        .err(
            "POST",
            "/flows",
            Some(json!({"alias": "x", "bogus": 1})),
            400,
        )
        .await;
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("Unrecognized field \"bogus\""),
        "{e}"
    );

    // Executions of a built-in flow, sub-flows depth-first.
    let execs = c.executions("browser").await;
    assert_eq!(execs.len(), 15);
    assert_eq!(execs[0]["providerId"], "auth-cookie");
    assert_eq!(execs[0]["displayName"], "Cookie");
    assert_eq!(execs[0]["requirement"], "ALTERNATIVE");
    let forms = execs.iter().find(|x| x["displayName"] == "forms").unwrap();
    assert_eq!(forms["authenticationFlow"], true);
    assert_eq!(forms["level"], 0);
    let e = c.err("GET", "/flows/nope/executions", None, 404).await;
    keycloak_error(&e, "Flow not found");
    let cookie = execs[0]["id"].as_str().unwrap().to_string();
    let one = c.get(&format!("/executions/{cookie}")).await;
    assert_eq!(one["authenticator"], "auth-cookie");
    assert_eq!(one["parentFlow"], json!(browser_id));
    let e = c.err("GET", "/executions/bad", None, 404).await;
    keycloak_error(&e, "Illegal execution");

    // Built-in flows cannot be changed.
    let e = c
        .err(
            "POST",
            "/flows/browser/executions/execution",
            Some(json!({"provider": "auth-cookie"})),
            400,
        )
        .await;
    keycloak_error(&e, "It is illegal to add execution to a built in flow");
    let e = c
        .err(
            "POST",
            &format!("/executions/{cookie}/raise-priority"),
            None,
            400,
        )
        .await;
    keycloak_error(&e, "It is illegal to modify execution in a built in flow");
    let e = c
        .err("DELETE", &format!("/flows/{browser_id}"), None, 400)
        .await;
    keycloak_error(&e, "Can't delete built in flow");

    // Executions of our flow: added last, moved, requirement changed.
    let add = |p: &str| Some(json!({"provider": p}));
    let loc = c
        .ok(
            "POST",
            "/flows/mine/executions/execution",
            add("auth-cookie"),
            201,
        )
        .await;
    assert!(loc.contains(&format!("{BASE}/executions/")), "{loc}");
    let a = last_segment(&loc);
    let b = last_segment(
        &c.ok(
            "POST",
            "/flows/mine/executions/execution",
            add("auth-username-password-form"),
            201,
        )
        .await,
    );
    let e = c
        .err("POST", "/flows/mine/executions/execution", add("nope"), 400)
        .await;
    keycloak_error(&e, "No authentication provider found for id: nope");
    let ids = |v: &[Value]| -> Vec<String> {
        v.iter()
            .map(|x| x["id"].as_str().unwrap().to_string())
            .collect()
    };
    let before = c.executions("mine").await;
    assert_eq!(ids(&before), [a.clone(), b.clone()]);
    assert_eq!(before[0]["requirement"], "DISABLED");
    assert_eq!(before[1]["requirement"], "REQUIRED");
    c.ok(
        "POST",
        &format!("/executions/{b}/raise-priority"),
        None,
        204,
    )
    .await;
    assert_eq!(ids(&c.executions("mine").await), [b.clone(), a.clone()]);
    c.ok(
        "POST",
        &format!("/executions/{b}/lower-priority"),
        None,
        204,
    )
    .await;
    assert_eq!(c.executions("mine").await, before);
    let e = c
        .err("POST", "/executions/bad/lower-priority", None, 404)
        .await;
    keycloak_error(&e, "Illegal execution");
    let mut info = before[0].clone();
    info["requirement"] = json!("ALTERNATIVE");
    c.ok("PUT", "/flows/mine/executions", Some(info), 204).await;
    assert_eq!(c.executions("mine").await[0]["requirement"], "ALTERNATIVE");
    let e = c
        .err(
            "PUT",
            "/flows/mine/executions",
            Some(json!({"id": a, "required": "yes"})),
            400,
        )
        .await;
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("Unrecognized field \"required\""),
        "{e}"
    );

    // A sub-flow: Location names the new flow; its alias is unique.
    let loc = c
        .ok(
            "POST",
            "/flows/mine/executions/flow",
            Some(json!({"alias": "inner", "type": "basic-flow", "description": "d"})),
            201,
        )
        .await;
    let inner = last_segment(&loc);
    assert!(loc.ends_with(&format!("{BASE}/flows/{inner}")), "{loc}");
    assert_eq!(c.get(&format!("/flows/{inner}")).await["topLevel"], false);
    let e = c
        .err(
            "POST",
            "/flows/mine/executions/flow",
            Some(json!({"alias": "inner", "type": "basic-flow"})),
            409,
        )
        .await;
    assert_eq!(
        e,
        json!({"errorMessage": "New flow alias name already exists"})
    );
    let e = c
        .err(
            "POST",
            "/flows/nope/executions/flow",
            Some(json!({"alias": "x", "type": "basic-flow"})),
            400,
        )
        .await;
    assert_eq!(e, json!({"errorMessage": "Parent flow doesn't exist"}));

    // An authenticator config made through an execution.
    let redirector = last_segment(
        &c.ok(
            "POST",
            "/flows/inner/executions/execution",
            add("identity-provider-redirector"),
            201,
        )
        .await,
    );
    let e = c
        .err(
            "POST",
            &format!("/executions/{redirector}/config"),
            Some(json!({"config": {}})),
            400,
        )
        .await;
    assert_eq!(e, json!({"errorMessage": "Alias missing"}));
    let cfg = last_segment(
        &c.ok(
            "POST",
            &format!("/executions/{redirector}/config"),
            Some(json!({"alias": "to-idp", "config": {"defaultProvider": "corp"}})),
            201,
        )
        .await,
    );
    let listed = c.executions("mine").await;
    let r = listed
        .iter()
        .find(|x| x["id"] == json!(redirector))
        .unwrap();
    assert_eq!(r["authenticationConfig"], json!(cfg));
    assert_eq!(r["alias"], "to-idp");
    assert_eq!(r["level"], 1);
    assert_eq!(
        c.get(&format!("/config/{cfg}")).await,
        json!({"id": cfg, "alias": "to-idp", "config": {"defaultProvider": "corp"}})
    );
    c.ok(
        "PUT",
        &format!("/config/{cfg}"),
        Some(json!({"alias": "to-idp", "config": {"defaultProvider": "other"}})),
        204,
    )
    .await;
    assert_eq!(
        c.get(&format!("/config/{cfg}")).await["config"]["defaultProvider"],
        "other"
    );
    let e = c.err("GET", "/config/bad", None, 404).await;
    keycloak_error(&e, "Could not find authenticator config");

    // Providers: Keycloak's names, only ids Portcullis knows.
    let providers = c.get("/authenticator-providers").await;
    let cookie_p = providers
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "auth-cookie")
        .unwrap();
    assert_eq!(
        cookie_p,
        &json!({"id": "auth-cookie", "displayName": "Cookie", "description": "Validates the SSO cookie set by the auth server."})
    );
    assert!(providers.as_array().unwrap().len() <= 42);
    assert_eq!(
        c.get("/config-description/auth-cookie").await,
        json!({"providerId": "auth-cookie", "name": "Cookie", "helpText": "Validates the SSO cookie set by the auth server.", "properties": []})
    );
    let d = c
        .get("/config-description/identity-provider-redirector")
        .await;
    assert_eq!(d["properties"][0]["name"], "defaultProvider");
    let e = c.err("GET", "/config-description/nope", None, 404).await;
    keycloak_error(&e, "Could not find authenticator provider");
    let clients = c.get("/client-authenticator-providers").await;
    let secret = clients
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "client-secret")
        .unwrap();
    assert_eq!(secret["supportsSecret"], true);
    assert_eq!(
        c.get("/form-providers").await[0]["id"],
        "registration-page-form"
    );
    assert!(c
        .get("/form-action-providers")
        .await
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["id"] == "registration-user-creation"));
    assert_eq!(
        c.get("/per-client-config-description").await["client-jwt"],
        json!([])
    );

    // Copy, rename, delete.
    let loc = c
        .ok(
            "POST",
            "/flows/mine/copy",
            Some(json!({"newName": "copied"})),
            201,
        )
        .await;
    let copied = last_segment(&loc);
    assert_eq!(c.get(&format!("/flows/{copied}")).await["alias"], "copied");
    assert_eq!(c.executions("copied").await.len(), 4);
    let e = c
        .err(
            "POST",
            "/flows/mine/copy",
            Some(json!({"newName": "copied"})),
            409,
        )
        .await;
    assert_eq!(
        e,
        json!({"errorMessage": "New flow alias name already exists"})
    );
    let e = c
        .err(
            "POST",
            "/flows/nope/copy",
            Some(json!({"newName": "z"})),
            404,
        )
        .await;
    keycloak_error(&e, "Flow not found");
    c.ok(
        "PUT",
        &format!("/flows/{copied}"),
        Some(json!({"alias": "copied2", "description": "new", "providerId": "basic-flow", "topLevel": true})),
        204,
    )
    .await;
    assert_eq!(c.flow_id("copied2").await, copied);
    let e = c
        .err(
            "PUT",
            &format!("/flows/{copied}"),
            Some(json!({"alias": "mine", "providerId": "basic-flow", "topLevel": true})),
            409,
        )
        .await;
    assert_eq!(e, json!({"errorMessage": "Flow alias name already exists"}));
    c.ok("DELETE", &format!("/flows/{copied}"), None, 204).await;
    let e = c
        .err("DELETE", &format!("/flows/{copied}"), None, 404)
        .await;
    keycloak_error(&e, "Flow not found");
    assert_eq!(
        c.err("GET", "/flows/copied%20inner/executions", None, 404)
            .await["error"],
        "Flow not found"
    );

    // Deleting an execution; deleting a config unlinks it.
    c.ok("DELETE", &format!("/executions/{b}"), None, 204).await;
    let e = c
        .err("DELETE", &format!("/executions/{b}"), None, 404)
        .await;
    keycloak_error(&e, "Illegal execution");

    // Required actions.
    let actions = c.get("/required-actions").await;
    let list = actions.as_array().unwrap();
    assert_eq!(list[0]["alias"], "CONFIGURE_TOTP");
    for a in list {
        for k in [
            "alias",
            "name",
            "providerId",
            "enabled",
            "defaultAction",
            "priority",
            "config",
        ] {
            assert!(a.get(k).is_some(), "{k} missing in {a}");
        }
    }
    let mut up = c.get("/required-actions/UPDATE_PASSWORD").await;
    assert_eq!(up["enabled"], true);
    up["enabled"] = json!(false);
    c.ok("PUT", "/required-actions/UPDATE_PASSWORD", Some(up), 204)
        .await;
    assert_eq!(
        c.get("/required-actions/UPDATE_PASSWORD").await["enabled"],
        false
    );
    let e = c.err("GET", "/required-actions/nope", None, 404).await;
    keycloak_error(&e, "Failed to find required action");
    c.ok(
        "POST",
        "/required-actions/TERMS_AND_CONDITIONS/raise-priority",
        None,
        204,
    )
    .await;
    assert_eq!(
        c.get("/required-actions").await[0]["alias"],
        "TERMS_AND_CONDITIONS"
    );
    c.ok(
        "POST",
        "/required-actions/TERMS_AND_CONDITIONS/lower-priority",
        None,
        204,
    )
    .await;
    assert_eq!(
        c.get("/required-actions").await[0]["alias"],
        "CONFIGURE_TOTP"
    );
    assert_eq!(c.get("/unregistered-required-actions").await, json!([]));
    c.ok("DELETE", "/required-actions/delete_credential", None, 204)
        .await;
    let e = c
        .err("DELETE", "/required-actions/delete_credential", None, 404)
        .await;
    keycloak_error(&e, "Failed to find required action.");
    assert_eq!(
        c.get("/unregistered-required-actions").await,
        json!([{"name": "Delete Credential", "providerId": "delete_credential"}])
    );
    let e = c
        .err(
            "POST",
            "/register-required-action",
            Some(json!({"providerId": "nope", "name": "x"})),
            400,
        )
        .await;
    keycloak_error(
        &e,
        "Required Action Provider with given providerId not found",
    );
    c.ok(
        "POST",
        "/register-required-action",
        Some(json!({"providerId": "delete_credential", "name": "Delete Credential"})),
        204,
    )
    .await;
    let again = c.get("/required-actions/delete_credential").await;
    assert_eq!(again["enabled"], true);
    assert_eq!(again["priority"], 1001);

    // A call without a valid token is refused.
    let e = call(
        &c.s,
        "GET",
        "/admin/realms/shop/authentication/flows",
        Some("bad"),
        None,
    )
    .await;
    assert_eq!(e.0, 401);

    // Everything is in the stored realm, in Keycloak's export shape.
    let exported = data.export("shop");
    let flows = exported["authenticationFlows"].as_array().unwrap();
    let mine_f = flows.iter().find(|f| f["alias"] == "mine").unwrap();
    assert_eq!(mine_f["id"], json!(mine));
    let execs = mine_f["authenticationExecutions"].as_array().unwrap();
    assert_eq!(execs.len(), 2);
    assert!(execs.iter().all(|e| e.get("id").is_none()), "{execs:?}");
    assert_eq!(execs[0]["requirement"], "ALTERNATIVE");
    assert_eq!(execs[1]["flowAlias"], "inner");
    let inner_f = flows.iter().find(|f| f["alias"] == "inner").unwrap();
    assert_eq!(
        inner_f["authenticationExecutions"][0]["authenticatorConfig"],
        "to-idp"
    );
    assert!(flows.iter().all(|f| f["alias"] != "copied2"));
    assert!(exported["authenticatorConfig"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["alias"] == "to-idp" && c["config"]["defaultProvider"] == "other"));
    let ra = exported["requiredActions"].as_array().unwrap();
    let upd = ra.iter().find(|a| a["alias"] == "UPDATE_PASSWORD").unwrap();
    assert_eq!(upd["enabled"], false);
    let partial = call(
        &c.s,
        "POST",
        "/admin/realms/shop/partial-export",
        Some(&c.t),
        None,
    )
    .await
    .1;
    let pf = partial["authenticationFlows"].as_array().unwrap();
    assert!(pf
        .iter()
        .flat_map(|f| f["authenticationExecutions"].as_array().unwrap())
        .all(|e| e.get("id").is_none()));

    // The config goes; the execution loses it.
    c.ok("DELETE", &format!("/config/{cfg}"), None, 204).await;
    c.err("DELETE", &format!("/config/{cfg}"), None, 404).await;
    let r = c.executions("inner").await;
    assert!(r[0].get("authenticationConfig").is_none(), "{r:?}");
    data.cleanup().await;
}

#[tokio::test]
async fn authentication_admin_api_on_sqlite() {
    scenario(Backend::Sqlite).await;
}

#[tokio::test]
async fn authentication_admin_api_on_postgres() {
    scenario(Backend::Postgres).await;
}

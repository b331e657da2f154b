//! Unit tests of the operations on Keycloak's default flows.

use super::*;
use axum::response::IntoResponse;
use serde_json::json;

fn realm() -> RealmRepresentation {
    let mut v: Value =
        serde_json::from_str(include_str!("../../realm/defaults/new-realm.json")).unwrap();
    v["id"] = json!("realm-id");
    v["clients"] = json!([{"clientId": "app", "authenticationFlowBindingOverrides": {}}]);
    serde_json::from_value(v).unwrap()
}

fn doc(rep: &RealmRepresentation) -> AuthDoc {
    AuthDoc::read(rep).unwrap()
}

fn flow(alias: &str) -> Flow {
    Flow {
        alias: Some(alias.into()),
        provider_id: Some("basic-flow".into()),
        top_level: Some(true),
        ..Default::default()
    }
}

fn aliases(infos: &[Value]) -> Vec<String> {
    infos
        .iter()
        .map(|i| {
            i["providerId"]
                .as_str()
                .or(i["displayName"].as_str())
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn browser_executions_list_sub_flows_depth_first() {
    let d = doc(&realm());
    let infos = execution_infos(&d, "browser").unwrap();
    assert_eq!(infos.len(), 15);
    assert_eq!(infos[0]["providerId"], "auth-cookie");
    assert_eq!(infos[0]["displayName"], "Cookie");
    assert_eq!(infos[0]["level"], 0);
    assert_eq!(
        infos[0]["requirementChoices"],
        json!(["ALTERNATIVE", "DISABLED"])
    );
    let forms = infos
        .iter()
        .position(|i| i["displayName"] == "forms")
        .unwrap();
    assert_eq!(infos[forms]["authenticationFlow"], true);
    assert_eq!(infos[forms + 1]["level"], 1);
    assert_eq!(infos[forms + 1]["index"], 0);
    assert!(infos[forms]["flowId"].is_string());
    assert_eq!(
        execution_infos(&d, "nope")
            .unwrap_err()
            .into_response()
            .status(),
        404
    );
}

#[test]
fn create_copy_and_delete_flows() {
    let rep = realm();
    let mut d = doc(&rep);
    let id = create_flow(&mut d, flow("mine")).unwrap();
    assert!(matches!(
        create_flow(&mut d, flow("mine")),
        Err(AdminError::Conflict(_))
    ));
    assert!(matches!(
        create_flow(&mut d, flow("")),
        Err(AdminError::Conflict(_))
    ));
    assert_eq!(d.flow(&id).unwrap().built_in, Some(false));

    let copy = copy_flow(&mut d, "browser", Some("my browser")).unwrap();
    let c = d.flow(&copy).unwrap();
    assert_eq!(c.built_in, Some(false));
    assert!(d.flow_by_alias("my browser forms").is_some());
    let copied = execution_infos(&d, "my browser").unwrap();
    assert_eq!(copied.len(), 15);
    // New execution ids, same shape.
    let orig = execution_infos(&d, "browser").unwrap();
    assert_ne!(copied[0]["id"], orig[0]["id"]);
    assert_eq!(aliases(&copied)[0], aliases(&orig)[0]);
    // A copied config gets the prefixed alias.
    assert!(d
        .config_by_alias("my browser browser-conditional-credential")
        .is_some());
    assert!(matches!(
        copy_flow(&mut d, "browser", Some("my browser")),
        Err(AdminError::Conflict(_))
    ));

    // Built-in flows stay.
    let browser = d.flow_by_alias("browser").unwrap().id.clone().unwrap();
    assert!(matches!(
        delete_flow(&mut d, &rep, &browser),
        Err(AdminError::Plain(_))
    ));
    // The copy goes with its sub-flows and configs.
    delete_flow(&mut d, &rep, &copy).unwrap();
    assert!(d.flow_by_alias("my browser forms").is_none());
    assert!(d
        .config_by_alias("my browser browser-conditional-credential")
        .is_none());
    assert!(matches!(
        delete_flow(&mut d, &rep, &copy),
        Err(AdminError::NotFound(_))
    ));
}

#[test]
fn a_bound_flow_cannot_be_deleted_and_a_rename_follows_into_bindings() {
    let mut rep = realm();
    let mut d = doc(&rep);
    let id = copy_flow(&mut d, "browser", Some("b2")).unwrap();
    rep.extra.insert("browserFlow".into(), json!("b2"));
    assert!(matches!(
        delete_flow(&mut d, &rep, &id),
        Err(AdminError::BadRequest(_))
    ));
    let mut renamed = flow("b3");
    renamed.description = Some("d".into());
    update_flow(&mut d, &mut rep, &id, &renamed).unwrap();
    assert_eq!(rep.extra["browserFlow"], "b3");
    assert!(matches!(
        update_flow(&mut d, &mut rep, &id, &flow("browser")),
        Err(AdminError::Conflict(_))
    ));
}

#[test]
fn executions_are_added_moved_configured_and_removed() {
    let mut rep = realm();
    let mut d = doc(&rep);
    create_flow(&mut d, flow("f")).unwrap();
    let data = |p: &str| json!({"provider": p}).as_object().unwrap().clone();
    let a = add_execution_to_flow(&mut d, "f", &data("auth-cookie")).unwrap();
    let b = add_execution_to_flow(&mut d, "f", &data("auth-username-password-form")).unwrap();
    // One requirement choice: that one; several: DISABLED.
    let infos = execution_infos(&d, "f").unwrap();
    assert_eq!(infos[0]["requirement"], "DISABLED");
    assert_eq!(infos[1]["requirement"], "REQUIRED");
    assert_eq!(
        (infos[0]["priority"].clone(), infos[1]["priority"].clone()),
        (json!(0), json!(1))
    );
    assert!(matches!(
        add_execution_to_flow(&mut d, "f", &data("nope")),
        Err(AdminError::Plain(_))
    ));
    assert!(matches!(
        add_execution_to_flow(&mut d, "browser", &data("auth-cookie")),
        Err(AdminError::Plain(_))
    ));

    move_execution(&mut d, &b, true).unwrap();
    let ids: Vec<_> = execution_infos(&d, "f")
        .unwrap()
        .iter()
        .map(|i| i["id"].clone())
        .collect();
    assert_eq!(ids, [json!(b), json!(a)]);
    move_execution(&mut d, &b, true).unwrap(); // already first
    move_execution(&mut d, &b, false).unwrap();
    let ids: Vec<_> = execution_infos(&d, "f")
        .unwrap()
        .iter()
        .map(|i| i["id"].clone())
        .collect();
    assert_eq!(ids, [json!(a), json!(b)]);

    // Requirement through PUT.
    let info = info_body(
        json!({"id": a, "requirement": "ALTERNATIVE", "priority": 0})
            .as_object()
            .unwrap(),
    )
    .unwrap();
    update_execution(&mut d, &mut rep, "f", &info).unwrap();
    assert_eq!(
        execution_json(&d, &a).unwrap()["requirement"],
        "ALTERNATIVE"
    );
    let bad = info_body(
        json!({"id": a, "requirement": "SOMETIMES"})
            .as_object()
            .unwrap(),
    )
    .unwrap();
    assert!(update_execution(&mut d, &mut rep, "f", &bad).is_err());

    // A sub-flow, then a config on an execution.
    let sub = add_subflow(
        &mut d,
        "f",
        json!({"alias": "inner", "type": "basic-flow"})
            .as_object()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(d.flow(&sub).unwrap().top_level, Some(false));
    let redirector =
        add_execution_to_flow(&mut d, "inner", &data("identity-provider-redirector")).unwrap();
    let cfg = config_body(
        json!({"alias": "c1", "config": {"defaultProvider": "x", "empty": ""}})
            .as_object()
            .unwrap()
            .clone(),
    )
    .unwrap();
    let cid = add_execution_config(&mut d, &redirector, cfg).unwrap();
    assert_eq!(
        config_json(&d, &cid).unwrap()["config"],
        json!({"defaultProvider": "x"})
    );
    let infos = execution_infos(&d, "f").unwrap();
    let r = infos.iter().find(|i| i["id"] == json!(redirector)).unwrap();
    assert_eq!(
        (
            r["authenticationConfig"].clone(),
            r["alias"].clone(),
            r["level"].clone()
        ),
        (json!(cid), json!("c1"), json!(1))
    );

    // Deleting the sub-flow's execution removes the sub-flow and its configs.
    let sub_exec = infos.iter().find(|i| i["displayName"] == "inner").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    delete_execution(&mut d, &rep, &sub_exec).unwrap();
    assert!(d.flow_by_alias("inner").is_none());
    assert!(d.config(&cid).is_none());
    assert!(matches!(
        delete_execution(&mut d, &rep, &sub_exec),
        Err(AdminError::NotFound(_))
    ));
}

#[test]
fn deleting_a_config_unlinks_it() {
    let rep = realm();
    let mut d = doc(&rep);
    let cid = d
        .config_by_alias("review profile config")
        .unwrap()
        .id
        .clone()
        .unwrap();
    delete_config(&mut d, &cid).unwrap();
    let linked = d
        .flows
        .iter()
        .flat_map(|f| f.authentication_executions.iter().flatten())
        .any(|e| e.authenticator_config.as_deref() == Some("review profile config"));
    assert!(!linked);
    assert!(matches!(
        delete_config(&mut d, &cid),
        Err(AdminError::NotFound(_))
    ));
}

#[test]
fn required_actions_update_move_and_register() {
    let rep = realm();
    let mut list = crate::representation::authentication::required_actions(&rep).unwrap();
    assert_eq!(list[0].alias.as_deref(), Some("CONFIGURE_TOTP"));
    move_action(&mut list, "TERMS_AND_CONDITIONS", true).unwrap();
    assert_eq!(list[0].alias.as_deref(), Some("TERMS_AND_CONDITIONS"));
    assert_eq!(list[0].priority, Some(10));
    move_action(&mut list, "TERMS_AND_CONDITIONS", false).unwrap();
    assert_eq!(list[0].alias.as_deref(), Some("CONFIGURE_TOTP"));
    assert!(matches!(
        move_action(&mut list, "nope", true),
        Err(AdminError::NotFound(_))
    ));

    let mut rep_body = list[2].clone();
    rep_body.enabled = Some(false);
    update_action(&mut list, "UPDATE_PASSWORD", &rep_body).unwrap();
    assert_eq!(list[2].enabled, Some(false));

    let data = |p: &str| BTreeMap::from([("providerId".to_string(), p.to_string())]);
    assert!(matches!(
        register_action(&mut list, &data("nope")),
        Err(AdminError::Plain(_))
    ));
    assert!(matches!(
        register_action(&mut list, &data("VERIFY_EMAIL")),
        Err(AdminError::Conflict(_))
    ));
    list.retain(|a| a.alias.as_deref() != Some("VERIFY_EMAIL"));
    register_action(&mut list, &data("VERIFY_EMAIL")).unwrap();
    let last = list.last().unwrap();
    assert_eq!(
        (last.alias.as_deref(), last.priority, last.enabled),
        (Some("VERIFY_EMAIL"), Some(1001), Some(true))
    );
}

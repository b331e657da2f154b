//! Unit tests of the mappers.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use super::*;
use crate::model::{Organization, Role};
use crate::representation::UserRepresentation;

#[test]
fn claim_names_nest_and_escape() {
    assert_eq!(claim_path("a.b"), vec!["a", "b"]);
    assert_eq!(claim_path(r"a\.b.c"), vec!["a.b", "c"]);
    let mut m = Map::new();
    set_claim(&mut m, "resource_access.my\\.app.roles", json!(["x"]));
    set_claim(&mut m, "resource_access.my\\.app.roles", json!(["y", "x"]));
    assert_eq!(m["resource_access"]["my.app"]["roles"], json!(["x", "y"]));
}

fn user() -> UserRepresentation {
    serde_json::from_value(json!({"username": "alice", "email": "a@example.com", "firstName": "Alice", "lastName": "Liddell", "emailVerified": true, "attributes": {"dept": ["eng", "ops"], "level": ["3"]}})).unwrap()
}

#[test]
fn mappers_produce_keycloak_claims() {
    let u = user();
    let roles: BTreeSet<Role> = [
        Role::Realm("user".into()),
        Role::Client("api".into(), "read".into()),
        Role::Client("app".into(), "own".into()),
        Role::Client("my.svc".into(), "call".into()),
    ]
    .into();
    let notes = Map::from_iter([("AUTH_TIME".to_string(), json!("1700000000"))]);
    let input = Input {
        user_id: "u-1",
        user: &u,
        client_id: "app",
        roles: &roles,
        groups: &["/staff/admins".to_string()],
        notes: &notes,
        web_origins: &[],
        acr: "1",
        amr: &[],
        organizations: &[],
    };
    let m = |kind: &str, config: Value| json!({"protocol": "openid-connect", "protocolMapper": kind, "config": config});
    let mappers = [
        m(
            "oidc-usermodel-property-mapper",
            json!({"user.attribute": "username", "claim.name": "preferred_username", "jsonType.label": "String", "access.token.claim": "true"}),
        ),
        m(
            "oidc-usermodel-property-mapper",
            json!({"user.attribute": "emailVerified", "claim.name": "email_verified", "jsonType.label": "boolean", "access.token.claim": "true"}),
        ),
        m(
            "oidc-usermodel-attribute-mapper",
            json!({"user.attribute": "dept", "claim.name": "org.dept", "multivalued": "true", "access.token.claim": "true"}),
        ),
        m(
            "oidc-usermodel-attribute-mapper",
            json!({"user.attribute": "level", "claim.name": "level", "jsonType.label": "long", "access.token.claim": "true"}),
        ),
        m(
            "oidc-full-name-mapper",
            json!({"access.token.claim": "true"}),
        ),
        m(
            "oidc-usermodel-realm-role-mapper",
            json!({"claim.name": "realm_access.roles", "multivalued": "true", "access.token.claim": "true"}),
        ),
        m(
            "oidc-usermodel-client-role-mapper",
            json!({"claim.name": "resource_access.${client_id}.roles", "multivalued": "true", "access.token.claim": "true"}),
        ),
        m(
            "oidc-group-membership-mapper",
            json!({"claim.name": "groups", "full.path": "false", "access.token.claim": "true"}),
        ),
        m(
            "oidc-hardcoded-claim-mapper",
            json!({"claim.name": "tier", "claim.value": "{\"a\":1}", "jsonType.label": "JSON", "access.token.claim": "true"}),
        ),
        m(
            "oidc-usersessionmodel-note-mapper",
            json!({"user.session.note": "AUTH_TIME", "claim.name": "auth_time", "jsonType.label": "long", "access.token.claim": "true"}),
        ),
        m("oidc-sub-mapper", json!({"access.token.claim": "true"})),
        m(
            "oidc-audience-mapper",
            json!({"included.custom.audience": "https://api.example.com", "access.token.claim": "true"}),
        ),
        m(
            "oidc-usermodel-property-mapper",
            json!({"user.attribute": "email", "claim.name": "email", "access.token.claim": "false", "id.token.claim": "true"}),
        ),
    ];
    let mut claims = Map::new();
    for mapper in &mappers {
        Mapper::compile(mapper).apply(Target::Access, &input, &mut claims);
    }
    resolve_audience(&mut claims, "app");
    assert_eq!(claims["preferred_username"], "alice");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["org"]["dept"], json!(["eng", "ops"]));
    assert_eq!(claims["level"], 3);
    assert_eq!(claims["name"], "Alice Liddell");
    assert_eq!(claims["realm_access"]["roles"], json!(["user"]));
    assert_eq!(claims["resource_access"]["api"]["roles"], json!(["read"]));
    assert_eq!(claims["resource_access"]["app"]["roles"], json!(["own"]));
    assert_eq!(
        claims["resource_access"]["my.svc"]["roles"],
        json!(["call"]),
        "a dotted client id stays one claim segment"
    );
    assert_eq!(claims["groups"], json!(["admins"]));
    assert_eq!(claims["tier"], json!({"a": 1}));
    assert_eq!(claims["auth_time"], 1700000000);
    assert_eq!(claims["sub"], "u-1");
    assert_eq!(
        claims["aud"],
        json!(["https://api.example.com", "api", "my.svc"]),
        "custom audience plus resolved, not the client itself"
    );
    assert!(
        claims.get("email").is_none(),
        "email only in the ID token here"
    );
}

fn orgs() -> Vec<Organization> {
    let attrs = json!({"tier": ["gold"], "region": ["eu", "us"]});
    vec![
        Organization {
            id: "id-acme".into(),
            alias: "acme".into(),
            name: "Acme".into(),
            domains: Vec::new(),
            enabled: true,
            attributes: attrs.as_object().cloned().unwrap(),
        },
        Organization {
            id: "id-globex".into(),
            alias: "globex".into(),
            name: "Globex".into(),
            domains: Vec::new(),
            enabled: true,
            attributes: Map::new(),
        },
    ]
}

#[test]
fn organization_claim_shapes_follow_the_mapper_config() {
    let list = orgs();
    let two: Vec<&Organization> = list.iter().collect();
    let claim = |config: Value| {
        organization_claim(
            &Mapper::compile(
                &json!({"protocolMapper": "oidc-organization-membership-mapper", "config": config}),
            ),
            &two,
        )
    };
    // The built-in mapper: multivalued String, a list of aliases.
    assert_eq!(
        claim(json!({"multivalued": "true", "jsonType.label": "String"})),
        Some(json!(["acme", "globex"]))
    );
    assert_eq!(
        claim(json!({"multivalued": "true", "jsonType.label": "JSON"})),
        Some(json!({"acme": {}, "globex": {}}))
    );
    // Either flag forces the object form, whatever the JSON type says.
    assert_eq!(
        claim(
            json!({"multivalued": "true", "jsonType.label": "boolean", "addOrganizationId": "true"})
        ),
        Some(json!({"acme": {"id": "id-acme"}, "globex": {"id": "id-globex"}}))
    );
    assert_eq!(
        claim(json!({"multivalued": "true", "addOrganizationAttributes": "TRUE"})),
        Some(json!({"acme": {"tier": ["gold"], "region": ["eu", "us"]}, "globex": {}}))
    );
    assert_eq!(
        claim(
            json!({"multivalued": "true", "addOrganizationAttributes": "true", "addOrganizationId": "true"})
        ),
        Some(
            json!({"acme": {"id": "id-acme", "tier": ["gold"], "region": ["eu", "us"]}, "globex": {"id": "id-globex"}})
        )
    );
    // Single-valued: the first alias; the flags are turned off.
    assert_eq!(
        claim(json!({"multivalued": "false", "addOrganizationId": "true"})),
        Some(json!("acme"))
    );
    // Without `multivalued` Keycloak drops the flags, then defaults to a list.
    assert_eq!(
        claim(json!({"addOrganizationId": "true"})),
        Some(json!(["acme", "globex"]))
    );
    assert_eq!(
        organization_claim(
            &Mapper::compile(&json!({"config": {"multivalued": "true"}})),
            &[]
        ),
        None
    );
}

#[test]
fn organization_mapper_writes_its_claim_for_its_targets() {
    let u = user();
    let roles = BTreeSet::new();
    let notes = Map::new();
    let list = orgs();
    let one = [&list[0]];
    let input = Input {
        user_id: "u-1",
        user: &u,
        client_id: "app",
        roles: &roles,
        groups: &[],
        notes: &notes,
        web_origins: &[],
        acr: "1",
        amr: &[],
        organizations: &one,
    };
    // The `organization` scope's mapper of a new realm (no `userinfo.token.claim`).
    let builtin = json!({"protocol": "openid-connect", "protocolMapper": "oidc-organization-membership-mapper",
        "config": {"id.token.claim": "true", "introspection.token.claim": "true", "access.token.claim": "true",
                   "claim.name": "organization", "jsonType.label": "String", "multivalued": "true"}});
    for target in [
        Target::Access,
        Target::Id,
        Target::Userinfo,
        Target::Introspection,
    ] {
        let mut claims = Map::new();
        Mapper::compile(&builtin).apply(target, &input, &mut claims);
        assert_eq!(claims["organization"], json!(["acme"]), "{target:?}");
    }
    let custom = json!({"protocolMapper": "oidc-organization-membership-mapper",
        "config": {"access.token.claim": "true", "id.token.claim": "false", "userinfo.token.claim": "false",
                   "claim.name": "tenant.orgs", "multivalued": "true", "addOrganizationId": "true"}});
    let mut claims = Map::new();
    Mapper::compile(&custom).apply(Target::Access, &input, &mut claims);
    assert_eq!(claims["tenant"]["orgs"], json!({"acme": {"id": "id-acme"}}));
    for target in [Target::Id, Target::Userinfo] {
        let mut claims = Map::new();
        Mapper::compile(&custom).apply(target, &input, &mut claims);
        assert!(claims.is_empty(), "{target:?}");
    }
    let mut claims = Map::new();
    Mapper::compile(&custom).apply(Target::Introspection, &input, &mut claims);
    assert!(
        claims.contains_key("tenant"),
        "introspection follows the access token"
    );
    // No organization, no claim.
    let none = Input {
        organizations: &[],
        ..input
    };
    let mut claims = Map::new();
    Mapper::compile(&builtin).apply(Target::Access, &none, &mut claims);
    assert!(claims.is_empty());
}

/// The claims `mapper` writes into `target` for `input`.
fn written(mapper: &Value, target: Target, input: &Input<'_>) -> Map<String, Value> {
    let mut claims = Map::new();
    Mapper::compile(mapper).apply(target, input, &mut claims);
    claims
}

/// An OIDC mapper of type `kind` writing into the access token, with `config` added.
fn access(kind: &str, config: Value) -> Value {
    let mut c = json!({"access.token.claim": "true"});
    if let (Some(c), Value::Object(extra)) = (c.as_object_mut(), config) {
        c.extend(extra);
    }
    json!({"protocol": "openid-connect", "protocolMapper": kind, "config": c})
}

/// Runs `check` with an input holding `u`, `roles` and otherwise little.
fn with_input(
    u: &UserRepresentation,
    roles: &BTreeSet<Role>,
    notes: &Map<String, Value>,
    check: impl FnOnce(&Input<'_>),
) {
    let groups = ["/staff/admins".to_string(), "/top".to_string()];
    check(&Input {
        user_id: "u-1",
        user: u,
        client_id: "app",
        roles,
        groups: &groups,
        notes,
        web_origins: &[],
        acr: "1",
        amr: &[],
        organizations: &[],
    });
}

#[test]
fn targets_follow_keycloaks_fall_backs() {
    let targets = |config: Value| {
        let m = Mapper::compile(&json!({"protocolMapper": "oidc-sub-mapper", "config": config}));
        [
            Target::Access,
            Target::Id,
            Target::Userinfo,
            Target::Introspection,
        ]
        .map(|t| m.writes(t))
    };
    assert_eq!(targets(json!({})), [false; 4]);
    // Userinfo follows the ID token, introspection the access token.
    assert_eq!(
        targets(json!({"access.token.claim": "true"})),
        [true, false, false, true]
    );
    assert_eq!(
        targets(json!({"id.token.claim": "true"})),
        [false, true, true, false]
    );
    // Said explicitly, they stand on their own; only `true` is true.
    assert_eq!(
        targets(
            json!({"access.token.claim": "true", "id.token.claim": "true",
                       "userinfo.token.claim": "false", "introspection.token.claim": "TRUE"})
        ),
        [true, true, false, false]
    );
    assert_eq!(
        targets(json!({"userinfo.token.claim": "true", "introspection.token.claim": "true"})),
        [false, false, true, true]
    );
    // A non-string value counts as absent.
    assert_eq!(targets(json!({"access.token.claim": true})), [false; 4]);
}

#[test]
fn acr_never_reaches_userinfo() {
    // `AcrProtocolMapper` implements no `UserInfoTokenMapper`.
    let m = Mapper::compile(&json!({"protocolMapper": "oidc-acr-mapper",
        "config": {"id.token.claim": "true", "userinfo.token.claim": "true", "access.token.claim": "true"}}));
    assert!(m.writes(Target::Access) && m.writes(Target::Id));
    assert!(!m.writes(Target::Userinfo));
}

#[test]
fn other_protocols_and_unknown_types_write_nothing() {
    let u = user();
    let roles = BTreeSet::new();
    let notes = Map::new();
    with_input(&u, &roles, &notes, |input| {
        for m in [
            json!({"protocol": "saml", "protocolMapper": "oidc-sub-mapper", "config": {"access.token.claim": "true"}}),
            json!({"protocolMapper": "oidc-unknown-mapper", "config": {"access.token.claim": "true", "claim.name": "x", "claim.value": "y"}}),
            json!({"config": {"access.token.claim": "true"}}),
        ] {
            assert_eq!(Mapper::compile(&m).kind(), Kind::Other, "{m}");
            assert!(written(&m, Target::Access, input).is_empty(), "{m}");
        }
        // The mapper's own protocol is the default.
        assert_eq!(
            written(&access("oidc-sub-mapper", json!({})), Target::Access, input)["sub"],
            "u-1"
        );
    });
    // The role mappers of another protocol are not role mappers.
    for kind in ["oidc-hardcoded-role-mapper", "oidc-role-name-mapper"] {
        let m = Mapper::compile(
            &json!({"protocol": "saml", "protocolMapper": kind, "config": {"role": "admin", "new.role.name": "x"}}),
        );
        assert_eq!(m.kind(), Kind::Other);
        assert_eq!((m.role(), m.new_role_name()), (None, None));
    }
}

#[test]
fn role_mappers_expose_their_roles() {
    let m = Mapper::compile(
        &json!({"protocolMapper": "oidc-role-name-mapper", "config": {"role": "api.read", "new.role.name": "reader"}}),
    );
    assert_eq!(m.kind(), Kind::RoleName);
    assert_eq!(
        (m.role(), m.new_role_name()),
        (Some("api.read"), Some("reader"))
    );
    let m = Mapper::compile(
        &json!({"protocolMapper": "oidc-hardcoded-role-mapper", "config": {"role": "admin", "new.role.name": "x"}}),
    );
    assert_eq!(m.kind(), Kind::HardcodedRole);
    assert_eq!((m.role(), m.new_role_name()), (Some("admin"), None));
    // Empty means unset.
    let m = Mapper::compile(
        &json!({"protocolMapper": "oidc-role-name-mapper", "config": {"role": "", "new.role.name": ""}}),
    );
    assert_eq!((m.role(), m.new_role_name()), (None, None));
    // Other kinds have none.
    let m =
        Mapper::compile(&json!({"protocolMapper": "oidc-sub-mapper", "config": {"role": "admin"}}));
    assert_eq!(m.role(), None);
    let resolve = Mapper::compile(&json!({"protocolMapper": "oidc-audience-resolve-mapper"}));
    assert_eq!(resolve.kind(), Kind::AudienceResolve);
}

#[test]
fn json_types_convert_string_values() {
    let u = user();
    let roles = BTreeSet::new();
    let notes = Map::new();
    with_input(&u, &roles, &notes, |input| {
        let claim = |value: &str, json_type: Option<&str>| {
            let mut config = json!({"claim.name": "c", "claim.value": value});
            if let Some(t) = json_type {
                config["jsonType.label"] = json!(t);
            }
            written(
                &access("oidc-hardcoded-claim-mapper", config),
                Target::Access,
                input,
            )
            .remove("c")
        };
        assert_eq!(claim("TRUE", Some("boolean")), Some(json!(true)));
        assert_eq!(claim("yes", Some("boolean")), Some(json!(false)));
        assert_eq!(claim("42", Some("int")), Some(json!(42)));
        assert_eq!(claim("-7", Some("long")), Some(json!(-7)));
        // What does not convert writes nothing.
        assert_eq!(claim("4.2", Some("long")), None);
        assert_eq!(claim("{bad", Some("JSON")), None);
        assert_eq!(claim("[1,2]", Some("JSON")), Some(json!([1, 2])));
        // Other labels, and none, keep the text.
        assert_eq!(claim("42", Some("json")), Some(json!("42")));
        assert_eq!(claim("42", None), Some(json!("42")));
        assert_eq!(claim("", Some("String")), Some(json!("")));
        // No value or no claim name: nothing.
        let no_value = access("oidc-hardcoded-claim-mapper", json!({"claim.name": "c"}));
        assert!(written(&no_value, Target::Access, input).is_empty());
        let no_name = access(
            "oidc-hardcoded-claim-mapper",
            json!({"claim.name": "", "claim.value": "v"}),
        );
        assert!(written(&no_name, Target::Access, input).is_empty());
    });
}

#[test]
fn property_mapper_reads_the_user_model() {
    let u: UserRepresentation = serde_json::from_value(
        json!({"username": "alice", "enabled": false, "createdTimestamp": 1700000000000_i64, "totp": false}),
    )
    .unwrap();
    let bare: UserRepresentation = serde_json::from_value(json!({})).unwrap();
    let roles = BTreeSet::new();
    let notes = Map::new();
    let property = |attr: &str, json_type: Option<&str>| {
        let mut config = json!({"claim.name": "p", "user.attribute": attr});
        if let Some(t) = json_type {
            config["jsonType.label"] = json!(t);
        }
        access("oidc-usermodel-property-mapper", config)
    };
    with_input(&u, &roles, &notes, |input| {
        let get = |attr, json_type| {
            written(&property(attr, json_type), Target::Access, input).remove("p")
        };
        assert_eq!(get("id", None), Some(json!("u-1")));
        assert_eq!(get("enabled", None), Some(json!(false)));
        // Only an explicit `String` turns a boolean into text.
        assert_eq!(get("enabled", Some("String")), Some(json!("false")));
        assert_eq!(get("enabled", Some("boolean")), Some(json!(false)));
        assert_eq!(get("emailVerified", None), Some(json!(false)));
        assert_eq!(
            get("createdTimestamp", Some("String")),
            Some(json!(1700000000000_i64))
        );
        assert_eq!(get("username", Some("boolean")), Some(json!(false)));
        assert_eq!(get("email", None), None);
        assert_eq!(get("nothing", None), None);
        let unnamed = access(
            "oidc-usermodel-property-mapper",
            json!({"user.attribute": "username"}),
        );
        assert!(written(&unnamed, Target::Access, input).is_empty());
    });
    with_input(&bare, &roles, &notes, |input| {
        let get = |attr| written(&property(attr, None), Target::Access, input).remove("p");
        assert_eq!(get("enabled"), Some(json!(true)), "Keycloak's default");
        assert_eq!(get("username"), None);
    });
}

#[test]
fn attribute_mapper_takes_one_value_or_all() {
    let u = user();
    let roles = BTreeSet::new();
    let notes = Map::new();
    with_input(&u, &roles, &notes, |input| {
        let get = |config: Value| {
            written(
                &access("oidc-usermodel-attribute-mapper", config),
                Target::Access,
                input,
            )
            .remove("a")
        };
        assert_eq!(
            get(json!({"claim.name": "a", "user.attribute": "dept"})),
            Some(json!("eng"))
        );
        assert_eq!(
            get(json!({"claim.name": "a", "user.attribute": "dept", "multivalued": "TRUE"})),
            Some(json!("eng")),
            "only `true` is multivalued"
        );
        // The built-in fields are attributes too.
        assert_eq!(
            get(json!({"claim.name": "a", "user.attribute": "firstName", "multivalued": "true"})),
            Some(json!(["Alice"]))
        );
        // Values that do not convert are left out; none left, nothing written.
        assert_eq!(
            get(json!({"claim.name": "a", "user.attribute": "dept", "jsonType.label": "long"})),
            None
        );
        assert_eq!(
            get(json!({"claim.name": "a", "user.attribute": "missing"})),
            None
        );
        assert_eq!(get(json!({"claim.name": "a"})), None);
    });
}

#[test]
fn role_mappers_write_prefixed_roles_per_container() {
    let u = user();
    let roles: BTreeSet<Role> = [
        Role::Realm("user".into()),
        Role::Client("api".into(), "read".into()),
        Role::Client("api".into(), "write".into()),
        Role::Client("my.svc".into(), "call".into()),
    ]
    .into();
    let notes = Map::new();
    with_input(&u, &roles, &notes, |input| {
        let realm = |config| {
            written(
                &access("oidc-usermodel-realm-role-mapper", config),
                Target::Access,
                input,
            )
        };
        // The default claim, whatever `multivalued` says.
        assert_eq!(
            realm(json!({"claim.name": "", "multivalued": "false"}))["realm_access"]["roles"],
            json!(["user"])
        );
        assert_eq!(
            realm(
                json!({"claim.name": "r", "usermodel.realmRoleMapping.rolePrefix": "x_",
                         "usermodel.clientRoleMapping.rolePrefix": "y_"})
            )["r"],
            json!(["x_user"])
        );
        let client = |config| {
            written(
                &access("oidc-usermodel-client-role-mapper", config),
                Target::Access,
                input,
            )
        };
        assert_eq!(
            Value::Object(client(
                json!({"usermodel.clientRoleMapping.rolePrefix": "c_",
                                        "usermodel.realmRoleMapping.rolePrefix": "x_"})
            )),
            json!({"resource_access": {"api": {"roles": ["c_read", "c_write"]}, "my.svc": {"roles": ["c_call"]}}})
        );
        assert_eq!(
            Value::Object(client(
                json!({"claim.name": "roles.${client_id}", "usermodel.clientRoleMapping.clientId": "my.svc"})
            )),
            json!({"roles": {"my.svc": ["call"]}})
        );
        assert_eq!(
            Value::Object(client(
                json!({"claim.name": "mine", "usermodel.clientRoleMapping.clientId": "api"})
            )),
            json!({"mine": ["read", "write"]}),
            "a name without the client id"
        );
        assert!(client(json!({"usermodel.clientRoleMapping.clientId": "none"})).is_empty());
    });
    let none = BTreeSet::new();
    with_input(&u, &none, &notes, |input| {
        let realm = access("oidc-usermodel-realm-role-mapper", json!({}));
        assert!(
            written(&realm, Target::Access, input).is_empty(),
            "no realm role, no claim"
        );
    });
}

#[test]
fn group_mapper_writes_full_paths_by_default() {
    let u = user();
    let roles = BTreeSet::new();
    let notes = Map::new();
    with_input(&u, &roles, &notes, |input| {
        let groups = |config| {
            written(
                &access("oidc-group-membership-mapper", config),
                Target::Access,
                input,
            )
        };
        assert_eq!(
            groups(json!({}))["groups"],
            json!(["/staff/admins", "/top"])
        );
        assert_eq!(
            groups(json!({"claim.name": "g.h", "full.path": "false"}))["g"]["h"],
            json!(["admins", "top"])
        );
        assert_eq!(
            groups(json!({"full.path": "TRUE"}))["groups"],
            json!(["admins", "top"]),
            "only `true` is true"
        );
    });
    let no_groups = Input {
        user_id: "u-1",
        user: &u,
        client_id: "app",
        roles: &roles,
        groups: &[],
        notes: &notes,
        web_origins: &[],
        acr: "1",
        amr: &[],
        organizations: &[],
    };
    let m = access("oidc-group-membership-mapper", json!({}));
    assert_eq!(written(&m, Target::Access, &no_groups)["groups"], json!([]));
}

#[test]
fn session_fixed_and_address_claims() {
    let u: UserRepresentation = serde_json::from_value(json!({"firstName": "Alice",
        "attributes": {"street": "1 Main St", "country": ["NL", "BE"], "locality": []}}))
    .unwrap();
    let roles = BTreeSet::new();
    let notes = Map::from_iter([("n".to_string(), json!(7)), ("s".to_string(), json!("x"))]);
    with_input(&u, &roles, &notes, |input| {
        let note = |config| {
            written(
                &access("oidc-usersessionmodel-note-mapper", config),
                Target::Access,
                input,
            )
        };
        assert_eq!(
            note(json!({"claim.name": "c", "user.session.note": "n", "jsonType.label": "String"}))
                ["c"],
            7
        );
        assert_eq!(
            note(json!({"claim.name": "c", "user.session.note": "s"}))["c"],
            "x"
        );
        assert!(note(
            json!({"claim.name": "c", "user.session.note": "s", "jsonType.label": "long"})
        )
        .is_empty());
        assert!(note(json!({"claim.name": "c", "user.session.note": "missing"})).is_empty());
        assert!(note(json!({"claim.name": "c"})).is_empty());

        let fixed = |kind| {
            written(
                &access(kind, json!({"claim.name": "ignored"})),
                Target::Access,
                input,
            )
        };
        assert_eq!(
            Value::Object(fixed("oidc-full-name-mapper")),
            json!({"name": "Alice"})
        );
        assert_eq!(Value::Object(fixed("oidc-acr-mapper")), json!({"acr": "1"}));
        assert!(
            fixed("oidc-allowed-origins-mapper").is_empty(),
            "no web origin"
        );
        assert_eq!(
            Value::Object(fixed("oidc-address-mapper")),
            json!({"address": {"street_address": "1 Main St", "country": "NL"}})
        );
        assert!(
            fixed("oidc-audience-resolve-mapper").is_empty(),
            "the caller resolves"
        );
    });
    let origins = ["https://a.example".to_string()];
    let nobody: UserRepresentation = serde_json::from_value(json!({})).unwrap();
    let input = Input {
        user_id: "u-1",
        user: &nobody,
        client_id: "app",
        roles: &roles,
        groups: &[],
        notes: &notes,
        web_origins: &origins,
        acr: "0",
        amr: &[],
        organizations: &[],
    };
    let fixed = |kind| written(&access(kind, json!({})), Target::Access, &input);
    assert_eq!(
        fixed("oidc-allowed-origins-mapper")["allowed-origins"],
        json!(["https://a.example"])
    );
    assert_eq!(fixed("oidc-acr-mapper")["acr"], "0");
    assert!(fixed("oidc-full-name-mapper").is_empty());
    assert!(fixed("oidc-address-mapper").is_empty());
}

#[test]
fn audiences_merge_into_aud() {
    let mut claims = Map::new();
    add_audience(&mut claims, vec![]);
    assert!(claims.is_empty());
    add_audience(&mut claims, vec!["a".into()]);
    assert_eq!(claims["aud"], "a", "single: a string");
    add_audience(&mut claims, vec!["a".into(), "b".into()]);
    assert_eq!(claims["aud"], json!(["a", "b"]));
    set_claim(&mut claims, "resource_access.app.roles", json!(["x"]));
    set_claim(&mut claims, "resource_access.b.roles", json!(["x"]));
    set_claim(&mut claims, "resource_access.c.roles", json!(["x"]));
    resolve_audience(&mut claims, "app");
    assert_eq!(claims["aud"], json!(["a", "b", "c"]));

    let u = user();
    let roles = BTreeSet::new();
    let notes = Map::new();
    with_input(&u, &roles, &notes, |input| {
        let m = access(
            "oidc-audience-mapper",
            json!({"included.client.audience": "api", "included.custom.audience": ""}),
        );
        assert_eq!(written(&m, Target::Access, input)["aud"], "api");
        let m = access(
            "oidc-audience-mapper",
            json!({"included.client.audience": ""}),
        );
        assert!(written(&m, Target::Access, input).is_empty());
    });
}

#[test]
fn set_claim_replaces_what_it_cannot_nest_into() {
    let mut claims = Map::new();
    set_claim(&mut claims, "a", json!("x"));
    set_claim(&mut claims, "a.b", json!(1));
    assert_eq!(claims["a"], json!({"b": 1}));
    set_claim(&mut claims, "a.b", json!([1]));
    set_claim(&mut claims, "a.b", json!([2]));
    assert_eq!(
        claims["a"]["b"],
        json!([1, 2]),
        "an array after a scalar replaces it"
    );
    set_claim(&mut claims, "a.b", json!("y"));
    assert_eq!(claims["a"]["b"], "y");
    set_claim_path(&mut claims, &[], json!(1));
    assert_eq!(claims.len(), 1);
    assert_eq!(claim_path(""), vec![""]);
    assert_eq!(claim_path(r"a\b"), vec![r"a\b"]);
}

#[test]
fn organization_mapper_claim_names() {
    let list = orgs();
    let one = [&list[0]];
    let u = user();
    let roles = BTreeSet::new();
    let notes = Map::new();
    let input = Input {
        user_id: "u-1",
        user: &u,
        client_id: "app",
        roles: &roles,
        groups: &[],
        notes: &notes,
        web_origins: &[],
        acr: "1",
        amr: &[],
        organizations: &one,
    };
    let org = |config| {
        written(
            &access("oidc-organization-membership-mapper", config),
            Target::Access,
            &input,
        )
    };
    assert_eq!(org(json!({}))["organization"], json!(["acme"]));
    assert!(
        org(json!({"claim.name": ""})).is_empty(),
        "an empty name writes nothing"
    );
    assert_eq!(org(json!({"multivalued": "no"}))["organization"], "acme");
    // Another kind of mapper has no organization claim.
    let sub = Mapper::compile(&access("oidc-sub-mapper", json!({"multivalued": "true"})));
    assert_eq!(organization_claim(&sub, &one), None);
}

//! Request bodies read as Keycloak reads them with Jackson: a field the representation does
//! not declare is refused (`FAIL_ON_UNKNOWN_PROPERTIES`, on by default in the `ObjectMapper`
//! Keycloak's `ObjectMapperResolver` builds), scalars are coerced where Jackson coerces them
//! (a number or boolean where text is declared), and a value of the wrong shape (text for a
//! list, a list for a map) is refused with Jackson's message and its reference chain, before
//! anything is written. Each representation is described once, as a [`Rep`]: its Java class and
//! the fields whose shape is more than a scalar.

use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

use super::{AdminError, AdminResult};

const IDM: &str = "org.keycloak.representations.idm";

/// What Jackson expects in one field of a representation.
pub enum Shape {
    /// A scalar or anything this server reads itself (checked by its typed parse).
    Any,
    /// `List<String>` (or `Set<String>`).
    Strings,
    /// `Map<String, String>`.
    StringMap,
    /// `Map<String, List<String>>`.
    StringListMap,
    /// A user's `attributes`: `Map<String, List<String>>` read by Keycloak's
    /// `StringListMapDeserializer`, which also takes a single value for a list.
    Attributes,
    /// One nested representation.
    One(&'static Rep),
    /// A list of nested representations.
    Many(&'static Rep),
    /// `Map<String, List<Rep>>` (a `RolesRepresentation`'s client roles).
    ManyByKey(&'static Rep),
}

/// A Keycloak representation: its Java class, its fields that are more than a scalar with
/// their shapes, and its scalar fields.
pub struct Rep {
    /// The fully qualified Java class, as Jackson's messages print it.
    pub class: &'static str,
    /// Fields with their shapes.
    pub fields: &'static [(&'static str, Shape)],
    /// Scalar fields (their types are checked by the typed parse that follows).
    pub scalars: &'static [&'static str],
    /// Other known fields, when a list cannot name them (`|_| true` where the class is annotated
    /// `@JsonIgnoreProperties(ignoreUnknown = true)`).
    pub more: Option<fn(&str) -> bool>,
}

/// A JSON body read as Jackson reads it into `shape`: strictly parsed ([`super::body`]), then
/// checked and coerced against the representation, then parsed into `T`.
pub fn representation<T: DeserializeOwned>(bytes: &[u8], shape: &Shape) -> AdminResult<T> {
    let mut v: Value = super::body(bytes)?;
    conform(&mut v, shape, &mut Vec::new())?;
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        AdminError::bad(if path == "." || path.is_empty() {
            format!("invalid JSON body: {}", e.inner())
        } else {
            format!("invalid JSON body at {path}: {}", e.inner())
        })
    })
}

/// Checks (and coerces, as Jackson does) `v` against `shape`; `chain` is Jackson's reference
/// chain to `v`.
pub fn conform(v: &mut Value, shape: &Shape, chain: &mut Vec<String>) -> AdminResult<()> {
    if v.is_null() {
        return Ok(());
    }
    match shape {
        Shape::Any => Ok(()),
        Shape::Strings => strings(v, chain),
        Shape::StringMap => {
            let Some(map) = v.as_object_mut() else {
                return Err(mismatch(MAP_OF_STRINGS, v, chain));
            };
            for (k, item) in map.iter_mut() {
                chain.push(format!("java.util.LinkedHashMap[\"{k}\"]"));
                text(item, chain)?;
                chain.pop();
            }
            Ok(())
        }
        Shape::StringListMap | Shape::Attributes => {
            let single = matches!(shape, Shape::Attributes);
            let Some(map) = v.as_object_mut() else {
                return Err(mismatch(MAP_OF_LISTS, v, chain));
            };
            for (k, item) in map.iter_mut() {
                chain.push(format!("java.util.LinkedHashMap[\"{k}\"]"));
                if single && !item.is_array() && !item.is_object() && !item.is_null() {
                    text(item, chain)?;
                    *item = Value::Array(vec![item.take()]);
                } else {
                    strings(item, chain)?;
                }
                chain.pop();
            }
            Ok(())
        }
        Shape::One(rep) => object(v, rep, chain),
        Shape::Many(rep) => list(v, rep, chain),
        Shape::ManyByKey(rep) => {
            let Some(map) = v.as_object_mut() else {
                let java = format!(
                    "java.util.Map<java.lang.String,java.util.List<{}>>",
                    rep.class
                );
                return Err(mismatch(&java, v, chain));
            };
            for (k, item) in map.iter_mut() {
                chain.push(format!("java.util.LinkedHashMap[\"{k}\"]"));
                list(item, rep, chain)?;
                chain.pop();
            }
            Ok(())
        }
    }
}

const MAP_OF_STRINGS: &str = "java.util.LinkedHashMap<java.lang.String,java.lang.String>";
const MAP_OF_LISTS: &str =
    "java.util.LinkedHashMap<java.lang.String,java.util.List<java.lang.String>>";

fn object(v: &mut Value, rep: &Rep, chain: &mut Vec<String>) -> AdminResult<()> {
    let Some(obj) = v.as_object_mut() else {
        return Err(mismatch(rep.class, v, chain));
    };
    for (k, item) in obj.iter_mut() {
        match rep.fields.iter().find(|(name, _)| name == k) {
            Some((_, shape)) => {
                chain.push(field_link(rep.class, k));
                conform(item, shape, chain)?;
                chain.pop();
            }
            None if rep.scalars.contains(&k.as_str()) || rep.more.is_some_and(|f| f(k)) => {}
            None => return Err(unrecognized(k, rep.class)),
        }
    }
    Ok(())
}

fn list(v: &mut Value, rep: &Rep, chain: &mut Vec<String>) -> AdminResult<()> {
    let Some(items) = v.as_array_mut() else {
        let java = format!("java.util.ArrayList<{}>", rep.class);
        return Err(mismatch(&java, v, chain));
    };
    for (i, item) in items.iter_mut().enumerate() {
        chain.push(format!("java.util.ArrayList[{i}]"));
        object(item, rep, chain)?;
        chain.pop();
    }
    Ok(())
}

fn strings(v: &mut Value, chain: &mut Vec<String>) -> AdminResult<()> {
    if v.is_null() {
        return Ok(());
    }
    let Some(items) = v.as_array_mut() else {
        return Err(mismatch("java.util.ArrayList<java.lang.String>", v, chain));
    };
    for (i, item) in items.iter_mut().enumerate() {
        chain.push(format!("java.util.ArrayList[{i}]"));
        text(item, chain)?;
        chain.pop();
    }
    Ok(())
}

/// A `String`: a number or boolean becomes its text (Jackson's scalar coercion), `null` stays.
fn text(v: &mut Value, chain: &[String]) -> AdminResult<()> {
    match v {
        Value::Bool(b) => *v = Value::String(b.to_string()),
        Value::Number(n) => *v = Value::String(n.to_string()),
        Value::String(_) | Value::Null => {}
        _ => return Err(mismatch("java.lang.String", v, chain)),
    }
    Ok(())
}

/// One link of a reference chain: `Class["field"]`.
fn field_link(class: &str, field: &str) -> String {
    format!("{class}[\"{field}\"]")
}

fn unrecognized(field: &str, class: &str) -> AdminError {
    AdminError::Plain(format!(
        "Unrecognized field \"{field}\" (class {class}), not marked as ignorable"
    ))
}

/// Keycloak reads request bodies with Jackson, which refuses a field the representation does
/// not have: 400 `Unrecognized field "x" (class ...), not marked as ignorable`. `class` is the
/// simple name of a class in `org.keycloak.representations.idm`.
pub fn reject_unknown(
    obj: &Map<String, Value>,
    known: impl Fn(&str) -> bool,
    class: &str,
) -> AdminResult<()> {
    match obj.keys().find(|k| !known(k)) {
        Some(k) => Err(unrecognized(k, &format!("{IDM}.{class}"))),
        None => Ok(()),
    }
}

/// Jackson's name of a JSON value's kind and token, as its messages print them.
fn jackson_kind(v: &Value) -> (&'static str, &'static str) {
    match v {
        Value::Array(_) => ("Array value", "START_ARRAY"),
        Value::Object(_) => ("Object value", "START_OBJECT"),
        Value::Bool(true) => ("Boolean value", "VALUE_TRUE"),
        Value::Bool(false) => ("Boolean value", "VALUE_FALSE"),
        Value::Number(n) if n.is_f64() => ("Floating-point value", "VALUE_NUMBER_FLOAT"),
        Value::Number(_) => ("Integer value", "VALUE_NUMBER_INT"),
        Value::String(_) => ("String value", "VALUE_STRING"),
        Value::Null => ("Null value", "VALUE_NULL"),
    }
}

/// Jackson's `MismatchedInputException` for `v` where `java` was declared, answered as
/// Keycloak answers it (`unknown_error`), its message in the description.
fn mismatch(java: &str, v: &Value, chain: &[String]) -> AdminError {
    let (kind, token) = jackson_kind(v);
    let mut m = format!(
        "Cannot deserialize value of type `{java}` from {kind} (token `JsonToken.{token}`)"
    );
    if !chain.is_empty() {
        m.push_str(&format!(" (through reference chain: {})", chain.join("->")));
    }
    AdminError::Mismatch(m)
}

/// Reads the top-level fields of a body as Jackson reads them into the representation, the
/// type of each field taken from `template` (a representation with every field set, as
/// Keycloak writes it): Jackson's scalar coercions are applied (`"true"` or `1` for a boolean,
/// `"300"` or `300.5` for an integer, a number or boolean for a string; `null` for anything),
/// anything else (a list for a string, text for a list, ...) is refused with Jackson's message.
pub fn coerce_types(
    obj: &mut Map<String, Value>,
    template: &Map<String, Value>,
    class: &str,
) -> AdminResult<()> {
    for (k, v) in obj.iter_mut() {
        let Some(t) = template.get(k) else { continue };
        if v.is_null() {
            continue;
        }
        let coerced: Option<Value> = match t {
            Value::Bool(_) => match &*v {
                Value::Bool(b) => Some(json!(b)),
                Value::Number(n) => n.as_i64().map(|i| json!(i != 0)),
                Value::String(s) => match s.trim() {
                    t if t.eq_ignore_ascii_case("true") => Some(json!(true)),
                    t if t.eq_ignore_ascii_case("false") => Some(json!(false)),
                    _ => None,
                },
                _ => None,
            },
            Value::Number(_) => {
                let f = match &*v {
                    Value::Number(n) if n.is_i64() || n.is_u64() => n.as_i64().map(|i| i as f64),
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) => s.trim().parse::<f64>().ok(),
                    _ => None,
                };
                f.filter(|f| f.is_finite() && f.abs() < 9.2e18)
                    .map(|f| json!(f.trunc() as i64))
            }
            Value::String(_) => match &*v {
                Value::String(s) => Some(json!(s)),
                Value::Number(n) => Some(json!(n.to_string())),
                Value::Bool(b) => Some(json!(b.to_string())),
                _ => None,
            },
            Value::Array(_) => v.is_array().then(|| v.clone()),
            Value::Object(_) => v.is_object().then(|| v.clone()),
            Value::Null => Some(v.clone()),
        };
        match coerced {
            Some(c) => *v = c,
            None => {
                let java = match t {
                    Value::Bool(_) => "java.lang.Boolean",
                    Value::Number(_) => "java.lang.Integer",
                    Value::String(_) => "java.lang.String",
                    Value::Array(_) => "java.util.List<java.lang.Object>",
                    _ => "java.util.Map<java.lang.String,java.lang.Object>",
                };
                return Err(mismatch(
                    java,
                    v,
                    &[field_link(&format!("{IDM}.{class}"), k)],
                ));
            }
        }
    }
    Ok(())
}

/// `UserRepresentation`.
pub static USER: Rep = Rep {
    class: "org.keycloak.representations.idm.UserRepresentation",
    fields: &[
        ("attributes", Shape::Attributes),
        ("credentials", Shape::Many(&CREDENTIAL)),
        ("disableableCredentialTypes", Shape::Strings),
        ("requiredActions", Shape::Strings),
        ("federatedIdentities", Shape::Many(&FEDERATED_IDENTITY)),
        ("realmRoles", Shape::Strings),
        ("clientRoles", Shape::StringListMap),
        ("applicationRoles", Shape::StringListMap),
        ("groups", Shape::Strings),
        ("userProfileMetadata", Shape::Any),
        ("clientConsents", Shape::Any),
        ("socialLinks", Shape::Any),
        ("access", Shape::Any),
    ],
    scalars: &[
        "id",
        "username",
        "firstName",
        "lastName",
        "email",
        "emailVerified",
        "self",
        "origin",
        "createdTimestamp",
        "enabled",
        "totp",
        "federationLink",
        "serviceAccountClientId",
        "notBefore",
    ],
    more: None,
};

/// `FederatedIdentityRepresentation`.
pub static FEDERATED_IDENTITY: Rep = Rep {
    class: "org.keycloak.representations.idm.FederatedIdentityRepresentation",
    fields: &[],
    scalars: &["identityProvider", "userId", "userName"],
    more: None,
};

/// `CredentialRepresentation`, with the deprecated fields Jackson still reads through their
/// getters.
pub static CREDENTIAL: Rep = Rep {
    class: "org.keycloak.representations.idm.CredentialRepresentation",
    fields: &[("config", Shape::StringListMap)],
    scalars: &[
        "id",
        "type",
        "userLabel",
        "createdDate",
        "secretData",
        "credentialData",
        "priority",
        "value",
        "temporary",
        "federationLink",
        "device",
        "hashedSaltedValue",
        "salt",
        "hashIterations",
        "counter",
        "algorithm",
        "digits",
        "period",
    ],
    more: None,
};

/// `GroupRepresentation`.
pub static GROUP: Rep = Rep {
    class: "org.keycloak.representations.idm.GroupRepresentation",
    fields: &[
        ("subGroups", Shape::Many(&GROUP)),
        ("attributes", Shape::StringListMap),
        ("realmRoles", Shape::Strings),
        ("clientRoles", Shape::StringListMap),
        ("access", Shape::Any),
    ],
    scalars: &["id", "name", "path", "parentId", "subGroupCount"],
    more: None,
};

/// `RoleRepresentation`.
pub static ROLE: Rep = Rep {
    class: "org.keycloak.representations.idm.RoleRepresentation",
    fields: &[
        ("composites", Shape::One(&COMPOSITES)),
        ("attributes", Shape::StringListMap),
    ],
    scalars: &[
        "id",
        "name",
        "description",
        "scopeParamRequired",
        "composite",
        "clientRole",
        "containerId",
    ],
    more: None,
};

/// `RoleRepresentation.Composites`.
pub static COMPOSITES: Rep = Rep {
    class: "org.keycloak.representations.idm.RoleRepresentation$Composites",
    fields: &[
        ("realm", Shape::Strings),
        ("client", Shape::StringListMap),
        ("application", Shape::StringListMap),
    ],
    scalars: &[],
    more: None,
};

/// `RolesRepresentation`.
pub static ROLES: Rep = Rep {
    class: "org.keycloak.representations.idm.RolesRepresentation",
    fields: &[
        ("realm", Shape::Many(&ROLE)),
        ("client", Shape::ManyByKey(&ROLE)),
        ("application", Shape::ManyByKey(&ROLE)),
    ],
    scalars: &[],
    more: None,
};

/// `ProtocolMapperRepresentation`.
pub static PROTOCOL_MAPPER: Rep = Rep {
    class: "org.keycloak.representations.idm.ProtocolMapperRepresentation",
    fields: &[("config", Shape::StringMap)],
    scalars: &[
        "id",
        "name",
        "protocol",
        "protocolMapper",
        "consentRequired",
        "consentText",
    ],
    more: None,
};

/// `ClientScopeRepresentation`.
pub static CLIENT_SCOPE: Rep = Rep {
    class: "org.keycloak.representations.idm.ClientScopeRepresentation",
    fields: &[
        ("attributes", Shape::StringMap),
        ("protocolMappers", Shape::Many(&PROTOCOL_MAPPER)),
    ],
    scalars: &["id", "name", "description", "protocol"],
    more: None,
};

/// `ClientRepresentation`, with its deprecated fields.
pub static CLIENT: Rep = Rep {
    class: "org.keycloak.representations.idm.ClientRepresentation",
    fields: &[
        ("redirectUris", Shape::Strings),
        ("webOrigins", Shape::Strings),
        ("defaultRoles", Shape::Strings),
        ("defaultClientScopes", Shape::Strings),
        ("optionalClientScopes", Shape::Strings),
        ("attributes", Shape::StringMap),
        ("authenticationFlowBindingOverrides", Shape::StringMap),
        ("protocolMappers", Shape::Many(&PROTOCOL_MAPPER)),
        ("registeredNodes", Shape::Any),
        ("authorizationSettings", Shape::One(&RESOURCE_SERVER)),
        ("access", Shape::Any),
    ],
    scalars: &[
        "id",
        "clientId",
        "name",
        "description",
        "type",
        "rootUrl",
        "adminUrl",
        "baseUrl",
        "surrogateAuthRequired",
        "enabled",
        "alwaysDisplayInConsole",
        "clientAuthenticatorType",
        "secret",
        "registrationAccessToken",
        "notBefore",
        "bearerOnly",
        "consentRequired",
        "standardFlowEnabled",
        "implicitFlowEnabled",
        "directAccessGrantsEnabled",
        "serviceAccountsEnabled",
        "authorizationServicesEnabled",
        "directGrantsOnly",
        "publicClient",
        "frontchannelLogout",
        "protocol",
        "fullScopeAllowed",
        "nodeReRegistrationTimeout",
        "clientTemplate",
        "useTemplateConfig",
        "useTemplateScope",
        "useTemplateMappers",
        "origin",
    ],
    more: None,
};

macro_rules! authz_class {
    ($name:literal) => {
        concat!("org.keycloak.representations.idm.authorization.", $name)
    };
}

/// `ResourceServerRepresentation`.
pub static RESOURCE_SERVER: Rep = Rep {
    class: authz_class!("ResourceServerRepresentation"),
    fields: &[
        ("resources", Shape::Many(&AUTHZ_RESOURCE)),
        ("policies", Shape::Many(&AUTHZ_POLICY)),
        ("scopes", Shape::Many(&AUTHZ_SCOPE)),
        ("authorizationSchema", Shape::Any),
    ],
    scalars: &[
        "id",
        "clientId",
        "name",
        "allowRemoteResourceManagement",
        "policyEnforcementMode",
        "decisionStrategy",
    ],
    more: None,
};

/// `ResourceRepresentation` (`owner` is a `ResourceOwnerRepresentation` or, through its
/// deserializer, a plain id or name).
pub static AUTHZ_RESOURCE: Rep = Rep {
    class: authz_class!("ResourceRepresentation"),
    fields: &[
        ("uris", Shape::Strings),
        ("scopes", Shape::Many(&AUTHZ_SCOPE)),
        ("resource_scopes", Shape::Any),
        ("owner", Shape::Any),
        ("attributes", Shape::StringListMap),
    ],
    scalars: &[
        "_id",
        "name",
        "uri",
        "type",
        "icon_uri",
        "ownerManagedAccess",
        "displayName",
    ],
    more: None,
};

/// `ScopeRepresentation`.
pub static AUTHZ_SCOPE: Rep = Rep {
    class: authz_class!("ScopeRepresentation"),
    fields: &[
        ("policies", Shape::Many(&AUTHZ_POLICY)),
        ("resources", Shape::Many(&AUTHZ_RESOURCE)),
    ],
    scalars: &["id", "name", "iconUri", "displayName"],
    more: None,
};

/// The fields of `AbstractPolicyRepresentation`.
const ABSTRACT_POLICY_SCALARS: &[&str] = &[
    "id",
    "name",
    "description",
    "type",
    "logic",
    "decisionStrategy",
    "owner",
    "resourceType",
];

/// `PolicyRepresentation` (generic: `config` is a map of strings).
pub static AUTHZ_POLICY: Rep = Rep {
    class: authz_class!("PolicyRepresentation"),
    fields: &[
        ("policies", Shape::Strings),
        ("resources", Shape::Strings),
        ("scopes", Shape::Strings),
        ("resourcesData", Shape::Any),
        ("scopesData", Shape::Any),
        ("config", Shape::StringMap),
    ],
    scalars: ABSTRACT_POLICY_SCALARS,
    more: None,
};

macro_rules! typed_policy_rep {
    ($static:ident, $class:literal, $more:expr) => {
        static $static: Rep = Rep {
            class: authz_class!($class),
            fields: &[
                ("policies", Shape::Strings),
                ("resources", Shape::Strings),
                ("scopes", Shape::Strings),
                ("resourcesData", Shape::Any),
                ("scopesData", Shape::Any),
            ],
            scalars: ABSTRACT_POLICY_SCALARS,
            more: Some($more),
        };
    };
}

typed_policy_rep!(ROLE_POLICY, "RolePolicyRepresentation", |k| matches!(
    k,
    "roles" | "fetchRoles"
));
typed_policy_rep!(USER_POLICY, "UserPolicyRepresentation", |k| k == "users");
typed_policy_rep!(GROUP_POLICY, "GroupPolicyRepresentation", |k| matches!(
    k,
    "groups" | "groupsClaim"
));
typed_policy_rep!(CLIENT_POLICY, "ClientPolicyRepresentation", |k| k
    == "clients");
typed_policy_rep!(
    CLIENT_SCOPE_POLICY,
    "ClientScopePolicyRepresentation",
    |k| k == "clientScopes"
);
typed_policy_rep!(TIME_POLICY, "TimePolicyRepresentation", |k| matches!(
    k,
    "notBefore"
        | "notOnOrAfter"
        | "dayMonth"
        | "dayMonthEnd"
        | "month"
        | "monthEnd"
        | "year"
        | "yearEnd"
        | "hour"
        | "hourEnd"
        | "minute"
        | "minuteEnd"
));
typed_policy_rep!(REGEX_POLICY, "RegexPolicyRepresentation", |k| matches!(
    k,
    "targetClaim" | "pattern" | "targetContextAttributes"
));
typed_policy_rep!(AGGREGATE_POLICY, "AggregatePolicyRepresentation", |_| false);
typed_policy_rep!(JS_POLICY, "JSPolicyRepresentation", |k| k == "code");
typed_policy_rep!(
    RESOURCE_PERMISSION,
    "ResourcePermissionRepresentation",
    |_| false
);
typed_policy_rep!(SCOPE_PERMISSION, "ScopePermissionRepresentation", |_| false);

/// The typed policy representation of `policy/{type}` and `permission/{type}`; `None` for a
/// type Keycloak has no provider of.
pub fn typed_policy(kind: &str) -> Option<&'static Rep> {
    Some(match kind {
        "role" => &ROLE_POLICY,
        "user" => &USER_POLICY,
        "group" => &GROUP_POLICY,
        "client" => &CLIENT_POLICY,
        "client-scope" => &CLIENT_SCOPE_POLICY,
        "time" => &TIME_POLICY,
        "regex" => &REGEX_POLICY,
        "aggregate" => &AGGREGATE_POLICY,
        "js" => &JS_POLICY,
        "resource" => &RESOURCE_PERMISSION,
        "scope" => &SCOPE_PERMISSION,
        _ => return None,
    })
}

/// `RealmRepresentation`: its nested representations here, its other fields those of a new
/// realm's representation ([`crate::realm::defaults::realm_fields`]).
pub static REALM: Rep = Rep {
    class: "org.keycloak.representations.idm.RealmRepresentation",
    fields: &[
        ("users", Shape::Many(&USER)),
        ("clients", Shape::Many(&CLIENT)),
        ("groups", Shape::Many(&GROUP)),
        ("clientScopes", Shape::Many(&CLIENT_SCOPE)),
        ("roles", Shape::One(&ROLES)),
        ("defaultRole", Shape::One(&ROLE)),
    ],
    scalars: &[],
    more: Some(|k| crate::realm::defaults::realm_fields().contains(k)),
};

/// `PartialImportRepresentation` (`@JsonIgnoreProperties(ignoreUnknown = true)`: only its
/// nested representations are strict).
pub static PARTIAL_IMPORT: Rep = Rep {
    class: "org.keycloak.representations.idm.PartialImportRepresentation",
    fields: &[
        ("users", Shape::Many(&USER)),
        ("groups", Shape::Many(&GROUP)),
        ("clients", Shape::Many(&CLIENT)),
        ("roles", Shape::One(&ROLES)),
    ],
    scalars: &[],
    more: Some(|_| true),
};

/// `IdentityProviderRepresentation` (Keycloak 26), with the deprecated
/// `updateProfileFirstLogin` Jackson still reads through its setter.
pub static IDENTITY_PROVIDER: Rep = Rep {
    class: "org.keycloak.representations.idm.IdentityProviderRepresentation",
    fields: &[("config", Shape::StringMap)],
    scalars: &[
        "alias",
        "displayName",
        "internalId",
        "providerId",
        "enabled",
        "updateProfileFirstLoginMode",
        "updateProfileFirstLogin",
        "trustEmail",
        "storeToken",
        "addReadTokenRoleOnCreate",
        "authenticateByDefault",
        "linkOnly",
        "hideOnLogin",
        "firstBrokerLoginFlowAlias",
        "postBrokerLoginFlowAlias",
        "organizationId",
    ],
    more: None,
};

/// `IdentityProviderMapperRepresentation`.
pub static IDENTITY_PROVIDER_MAPPER: Rep = Rep {
    class: "org.keycloak.representations.idm.IdentityProviderMapperRepresentation",
    fields: &[("config", Shape::StringMap)],
    scalars: &[
        "id",
        "name",
        "identityProviderAlias",
        "identityProviderMapper",
    ],
    more: None,
};

/// `ClientInitialAccessCreatePresentation`.
pub static INITIAL_ACCESS: Rep = Rep {
    class: "org.keycloak.representations.idm.ClientInitialAccessCreatePresentation",
    fields: &[],
    scalars: &["expiration", "count"],
    more: None,
};

/// `KeyStoreConfig`.
pub static KEY_STORE_CONFIG: Rep = Rep {
    class: "org.keycloak.representations.KeyStoreConfig",
    fields: &[],
    scalars: &[
        "realmCertificate",
        "storePassword",
        "keyPassword",
        "keyAlias",
        "realmAlias",
        "format",
        "keySize",
        "validity",
    ],
    more: None,
};

/// `RealmEventsConfigRepresentation`.
pub static REALM_EVENTS_CONFIG: Rep = Rep {
    class: "org.keycloak.representations.idm.RealmEventsConfigRepresentation",
    fields: &[
        ("eventsListeners", Shape::Strings),
        ("enabledEventTypes", Shape::Strings),
    ],
    scalars: &[
        "eventsEnabled",
        "eventsExpiration",
        "adminEventsEnabled",
        "adminEventsDetailsEnabled",
    ],
    more: None,
};

/// `OrganizationDomainRepresentation`.
pub static ORGANIZATION_DOMAIN: Rep = Rep {
    class: "org.keycloak.representations.idm.OrganizationDomainRepresentation",
    fields: &[],
    scalars: &["name", "verified"],
    more: None,
};

/// `OrganizationRepresentation` (its members and identity providers are read by the
/// organization code itself).
pub static ORGANIZATION: Rep = Rep {
    class: "org.keycloak.representations.idm.OrganizationRepresentation",
    fields: &[
        ("attributes", Shape::StringListMap),
        ("domains", Shape::Many(&ORGANIZATION_DOMAIN)),
        ("members", Shape::Any),
        ("identityProviders", Shape::Any),
    ],
    scalars: &[
        "id",
        "name",
        "alias",
        "enabled",
        "description",
        "redirectUrl",
    ],
    more: None,
};

/// `ComponentRepresentation` (`config` is a `MultivaluedHashMap<String, String>`).
pub static COMPONENT: Rep = Rep {
    class: "org.keycloak.representations.idm.ComponentRepresentation",
    fields: &[("config", Shape::StringListMap)],
    scalars: &[
        "id",
        "name",
        "providerId",
        "providerType",
        "parentId",
        "subType",
    ],
    more: None,
};

/// `AuthenticationExecutionExportRepresentation` (inside a flow).
pub static AUTHENTICATION_EXECUTION_EXPORT: Rep = Rep {
    class: "org.keycloak.representations.idm.AuthenticationExecutionExportRepresentation",
    fields: &[],
    scalars: &[
        "authenticatorConfig",
        "authenticator",
        "authenticatorFlow",
        "autheticatorFlow",
        "requirement",
        "priority",
        "flowAlias",
        "userSetupAllowed",
    ],
    more: None,
};

/// `AuthenticationFlowRepresentation`.
pub static AUTHENTICATION_FLOW: Rep = Rep {
    class: "org.keycloak.representations.idm.AuthenticationFlowRepresentation",
    fields: &[(
        "authenticationExecutions",
        Shape::Many(&AUTHENTICATION_EXECUTION_EXPORT),
    )],
    scalars: &[
        "id",
        "alias",
        "description",
        "providerId",
        "topLevel",
        "builtIn",
    ],
    more: None,
};

/// `AuthenticationExecutionInfoRepresentation` (`PUT .../executions`).
pub static AUTHENTICATION_EXECUTION_INFO: Rep = Rep {
    class: "org.keycloak.representations.idm.AuthenticationExecutionInfoRepresentation",
    fields: &[("requirementChoices", Shape::Strings)],
    scalars: &[
        "id",
        "requirement",
        "displayName",
        "alias",
        "description",
        "configurable",
        "authenticationFlow",
        "providerId",
        "authenticationConfig",
        "flowId",
        "level",
        "index",
        "priority",
        "providerUnavailable",
    ],
    more: None,
};

/// `AuthenticationExecutionRepresentation` (`POST .../executions`).
pub static AUTHENTICATION_EXECUTION: Rep = Rep {
    class: "org.keycloak.representations.idm.AuthenticationExecutionRepresentation",
    fields: &[],
    scalars: &[
        "id",
        "authenticatorConfig",
        "authenticator",
        "authenticatorFlow",
        "autheticatorFlow",
        "requirement",
        "priority",
        "flowId",
        "parentFlow",
    ],
    more: None,
};

/// `AuthenticatorConfigRepresentation`.
pub static AUTHENTICATOR_CONFIG: Rep = Rep {
    class: "org.keycloak.representations.idm.AuthenticatorConfigRepresentation",
    fields: &[("config", Shape::StringMap)],
    scalars: &["id", "alias"],
    more: None,
};

/// `RequiredActionProviderRepresentation`.
pub static REQUIRED_ACTION_PROVIDER: Rep = Rep {
    class: "org.keycloak.representations.idm.RequiredActionProviderRepresentation",
    fields: &[("config", Shape::StringMap)],
    scalars: &[
        "alias",
        "name",
        "providerId",
        "enabled",
        "defaultAction",
        "priority",
    ],
    more: None,
};

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn read(body: Value, shape: &Shape) -> Result<Value, String> {
        let bytes = serde_json::to_vec(&body).map_err(|e| e.to_string())?;
        representation::<Value>(&bytes, shape).map_err(|e| match e {
            AdminError::Plain(m) => m,
            AdminError::Mismatch(m) => format!("mismatch: {m}"),
            other => format!("{other:?}"),
        })
    }

    #[test]
    fn an_unknown_field_is_named_with_the_class_that_lacks_it() {
        let e = read(
            json!({"clientId": "a", "protocolMappers": [{"name": "m", "nope": 1}]}),
            &Shape::One(&CLIENT),
        )
        .unwrap_err();
        assert_eq!(
            e,
            "Unrecognized field \"nope\" (class org.keycloak.representations.idm.ProtocolMapperRepresentation), not marked as ignorable"
        );
        // Deep in a realm: a subgroup of a group.
        let e = read(
            json!({"realm": "r", "groups": [{"name": "a", "subGroups": [{"name": "b", "x": 1}]}]}),
            &Shape::One(&REALM),
        )
        .unwrap_err();
        assert!(e.contains("GroupRepresentation), not marked"), "{e}");
        // Partial import ignores its own unknown fields only.
        assert!(read(json!({"whatever": 1}), &Shape::One(&PARTIAL_IMPORT)).is_ok());
    }

    #[test]
    fn shapes_are_checked_with_jacksons_reference_chain() {
        let e = read(
            json!({"name": "g", "attributes": {"a": "x"}}),
            &Shape::One(&GROUP),
        )
        .unwrap_err();
        assert_eq!(
            e,
            "mismatch: Cannot deserialize value of type `java.util.ArrayList<java.lang.String>` from String value (token `JsonToken.VALUE_STRING`) (through reference chain: org.keycloak.representations.idm.GroupRepresentation[\"attributes\"]->java.util.LinkedHashMap[\"a\"])"
        );
        let e = read(json!(["a"]), &Shape::Many(&ROLE)).unwrap_err();
        assert!(
            e.ends_with("(through reference chain: java.util.ArrayList[0])")
                && e.contains("`org.keycloak.representations.idm.RoleRepresentation`"),
            "{e}"
        );
    }

    #[test]
    fn scalars_are_coerced_where_jackson_coerces_them() {
        let v = read(
            json!({"username": "u", "attributes": {"one": "x", "n": 3, "many": ["a", true]}}),
            &Shape::One(&USER),
        )
        .unwrap();
        assert_eq!(
            v["attributes"],
            json!({"one": ["x"], "n": ["3"], "many": ["a", "true"]})
        );
        let v = read(
            json!({"clientId": "c", "attributes": {"n": 5, "b": false, "z": null}}),
            &Shape::One(&CLIENT),
        )
        .unwrap();
        assert_eq!(v["attributes"], json!({"n": "5", "b": "false", "z": null}));
        assert!(read(json!({"attributes": {"n": [1]}}), &Shape::One(&CLIENT)).is_err());
    }
}

//! Claim names and values, and the mappers of user data, session notes and fixed values:
//! `oidc-usermodel-property-mapper`, `oidc-usermodel-attribute-mapper`,
//! `oidc-hardcoded-claim-mapper`, `oidc-usersessionmodel-note-mapper`, `oidc-full-name-mapper`
//! and `oidc-address-mapper`.

use serde_json::{json, Map, Value};

use super::compile::Config;
use crate::representation::UserRepresentation;

/// Splits a claim name on unescaped dots (`a.b` nests, `a\.b` is one name).
pub fn claim_path(name: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'.') => {
                chars.next();
                if let Some(last) = out.last_mut() {
                    last.push('.');
                }
            }
            '.' => out.push(String::new()),
            c => {
                if let Some(last) = out.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    out
}

/// Sets a (possibly nested) claim; arrays are merged when both sides are arrays.
pub fn set_claim(claims: &mut Map<String, Value>, name: &str, value: Value) {
    set_claim_path(claims, &claim_path(name), value);
}

/// [`set_claim`] with the name already split by [`claim_path`].
pub fn set_claim_path(claims: &mut Map<String, Value>, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = claims;
    for p in parents {
        let entry = cur.entry(p.clone()).or_insert_with(|| json!({}));
        if !entry.is_object() {
            *entry = json!({});
        }
        let Some(next) = entry.as_object_mut() else {
            return;
        };
        cur = next;
    }
    match (cur.get_mut(last), value) {
        (Some(Value::Array(existing)), Value::Array(new)) => {
            for v in new {
                if !existing.contains(&v) {
                    existing.push(v);
                }
            }
        }
        (_, v) => {
            cur.insert(last.clone(), v);
        }
    }
}

/// A mapper's claim name, split by [`claim_path`]; `None` when it is empty, and the mapper
/// then writes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ClaimName(Option<Vec<String>>);

impl ClaimName {
    /// `name` split, or no claim when it is empty.
    pub(super) fn of(name: &str) -> Self {
        ClaimName((!name.is_empty()).then(|| claim_path(name)))
    }

    /// Writes `value` under the name, if any.
    pub(super) fn set(&self, claims: &mut Map<String, Value>, value: Value) {
        if let Some(path) = &self.0 {
            set_claim_path(claims, path, value);
        }
    }
}

/// `jsonType.label`: the type a string value is converted to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum JsonType {
    /// No label: a string.
    Unset,
    /// `String`.
    String,
    /// `boolean`: `true` in any case, else false.
    Boolean,
    /// `long` or `int`: a number, or nothing when the value is not one.
    Long,
    /// `JSON`: the value parsed, or nothing when it does not parse.
    Json,
    /// Another label: a string.
    Other(String),
}

impl JsonType {
    pub(super) fn of(label: Option<&str>) -> Self {
        match label {
            None => JsonType::Unset,
            Some("String") => JsonType::String,
            Some("boolean") => JsonType::Boolean,
            Some("long" | "int") => JsonType::Long,
            Some("JSON") => JsonType::Json,
            Some(other) => JsonType::Other(other.to_string()),
        }
    }

    /// Converts a string value; `Null` means the mapper writes nothing.
    pub(super) fn convert(&self, v: &str) -> Value {
        match self {
            JsonType::Boolean => json!(v.eq_ignore_ascii_case("true")),
            JsonType::Long => v.parse::<i64>().map(Value::from).unwrap_or(Value::Null),
            JsonType::Json => serde_json::from_str(v).unwrap_or(Value::Null),
            JsonType::Unset | JsonType::String | JsonType::Other(_) => json!(v),
        }
    }
}

/// The user's property by Keycloak's `UserModel` name.
fn property(user: &UserRepresentation, user_id: &str, name: &str) -> Option<Value> {
    match name {
        "username" => user.username.clone().map(Value::from),
        "email" => user.email.clone().map(Value::from),
        "id" => Some(json!(user_id)),
        // Keycloak's model defaults when the representation leaves them out.
        "emailVerified" => Some(json!(user.email_verified.unwrap_or(false))),
        "enabled" => Some(json!(user.enabled.unwrap_or(true))),
        "firstName" => user.first_name.clone().map(Value::from),
        "lastName" => user.last_name.clone().map(Value::from),
        "createdTimestamp" => user.created_timestamp.map(Value::from),
        "notBefore" => user.not_before.map(Value::from),
        _ => user.extra.get(name).cloned(),
    }
}

/// The values of the user's attribute `name`.
fn attribute(user: &UserRepresentation, name: &str) -> Vec<String> {
    // With the declarative user profile (Keycloak 24+), the built-in fields are attributes too.
    if matches!(name, "username" | "email" | "firstName" | "lastName") {
        return match property(user, "", name) {
            Some(Value::String(s)) => vec![s],
            _ => Vec::new(),
        };
    }
    match user.attributes.as_ref().and_then(|a| a.get(name)) {
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// `oidc-usermodel-property-mapper`: a property of the user (`username`, `emailVerified`, ...).
#[derive(Debug, Clone)]
pub(super) struct Property {
    /// `claim.name`.
    path: ClaimName,
    /// `user.attribute`: the property's name.
    property: Option<String>,
    /// `jsonType.label`.
    json_type: JsonType,
}

impl Property {
    pub(super) fn of(c: Config<'_>) -> Self {
        Property {
            path: c.claim_name(""),
            property: c.text("user.attribute"),
            json_type: c.json_type(),
        }
    }

    pub(super) fn apply(
        &self,
        user: &UserRepresentation,
        user_id: &str,
        claims: &mut Map<String, Value>,
    ) {
        let Some(v) = self
            .property
            .as_deref()
            .and_then(|p| property(user, user_id, p))
        else {
            return;
        };
        let v = match v {
            Value::String(s) => self.json_type.convert(&s),
            // Only an explicit `String` turns a boolean property into text.
            Value::Bool(b) if self.json_type == JsonType::String => json!(b.to_string()),
            other => other,
        };
        if !v.is_null() {
            self.path.set(claims, v);
        }
    }
}

/// `oidc-usermodel-attribute-mapper`: a user attribute, its first value or all of them.
#[derive(Debug, Clone)]
pub(super) struct Attribute {
    /// `claim.name`.
    path: ClaimName,
    /// `user.attribute`.
    attribute: Option<String>,
    /// `jsonType.label`, applied to each value (those that do not convert are left out).
    json_type: JsonType,
    /// `multivalued` is `true`: a list of all values.
    multivalued: bool,
}

impl Attribute {
    pub(super) fn of(c: Config<'_>) -> Self {
        Attribute {
            path: c.claim_name(""),
            attribute: c.text("user.attribute"),
            json_type: c.json_type(),
            multivalued: c.get("multivalued") == Some("true"),
        }
    }

    pub(super) fn apply(&self, user: &UserRepresentation, claims: &mut Map<String, Value>) {
        let Some(attr) = self.attribute.as_deref() else {
            return;
        };
        let mut values: Vec<Value> = attribute(user, attr)
            .iter()
            .map(|v| self.json_type.convert(v))
            .filter(|v| !v.is_null())
            .collect();
        if values.is_empty() {
            return;
        }
        let v = if self.multivalued {
            Value::Array(values)
        } else {
            values.swap_remove(0)
        };
        self.path.set(claims, v);
    }
}

/// `oidc-hardcoded-claim-mapper`: a fixed value.
#[derive(Debug, Clone)]
pub(super) struct Hardcoded {
    /// `claim.name`.
    path: ClaimName,
    /// `claim.value`.
    value: Option<String>,
    /// `jsonType.label`.
    json_type: JsonType,
}

impl Hardcoded {
    pub(super) fn of(c: Config<'_>) -> Self {
        Hardcoded {
            path: c.claim_name(""),
            value: c.text("claim.value"),
            json_type: c.json_type(),
        }
    }

    pub(super) fn apply(&self, claims: &mut Map<String, Value>) {
        if let Some(v) = self.value.as_deref() {
            let v = self.json_type.convert(v);
            if !v.is_null() {
                self.path.set(claims, v);
            }
        }
    }
}

/// `oidc-usersessionmodel-note-mapper`: a note of the user session (`AUTH_TIME`, ...).
#[derive(Debug, Clone)]
pub(super) struct SessionNote {
    /// `claim.name`.
    path: ClaimName,
    /// `user.session.note`.
    note: Option<String>,
    /// `jsonType.label`, applied to a string note.
    json_type: JsonType,
}

impl SessionNote {
    pub(super) fn of(c: Config<'_>) -> Self {
        SessionNote {
            path: c.claim_name(""),
            note: c.text("user.session.note"),
            json_type: c.json_type(),
        }
    }

    pub(super) fn apply(&self, notes: &Map<String, Value>, claims: &mut Map<String, Value>) {
        let Some(v) = self.note.as_deref().and_then(|note| notes.get(note)) else {
            return;
        };
        let v = match v {
            Value::String(s) => self.json_type.convert(s),
            other => other.clone(),
        };
        if !v.is_null() {
            self.path.set(claims, v);
        }
    }
}

/// `oidc-full-name-mapper`: `name`, the first and last names joined, when either is set.
pub(super) fn full_name(user: &UserRepresentation, claims: &mut Map<String, Value>) {
    let name = format!(
        "{} {}",
        user.first_name.as_deref().unwrap_or_default(),
        user.last_name.as_deref().unwrap_or_default()
    )
    .trim()
    .to_string();
    if !name.is_empty() {
        claims.insert("name".into(), json!(name));
    }
}

/// `oidc-address-mapper`: `address`, from the user's address attributes, when any is set.
pub(super) fn address(user: &UserRepresentation, claims: &mut Map<String, Value>) {
    let mut address = Map::new();
    for (claim_key, attr) in [
        ("street_address", "street"),
        ("locality", "locality"),
        ("region", "region"),
        ("postal_code", "postal_code"),
        ("country", "country"),
        ("formatted", "formatted"),
    ] {
        if let Some(v) = attribute(user, attr).into_iter().next() {
            address.insert(claim_key.into(), json!(v));
        }
    }
    if !address.is_empty() {
        claims.insert("address".into(), Value::Object(address));
    }
}

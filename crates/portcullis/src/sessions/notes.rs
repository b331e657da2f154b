//! The notes stored with a session (`SessionRow.data`), as Keycloak names them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A session's notes: a JSON object of strings. Unknown notes are kept in `extra`, so rows
/// written by other versions parse and are written back whole.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionNotes {
    /// `AUTH_TIME`: when the user authenticated (seconds since the epoch, as a string).
    #[serde(rename = "AUTH_TIME", default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<String>,
    /// `REMEMBER_ME`: `"true"` for a "remember me" login.
    #[serde(
        rename = "REMEMBER_ME",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub remember_me: Option<String>,
    /// `ip`: the address the session was started from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Other notes.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl SessionNotes {
    /// The notes of a login at `auth_time`.
    pub fn at(auth_time: i64) -> Self {
        SessionNotes {
            auth_time: Some(auth_time.to_string()),
            ..SessionNotes::default()
        }
    }

    /// Reads stored notes; a note of an unexpected type is kept in `extra`, and data that is
    /// not a JSON object gives no notes.
    pub fn parse(data: &str) -> Self {
        serde_json::from_str(data).unwrap_or_else(|_| SessionNotes {
            extra: serde_json::from_str(data).unwrap_or_default(),
            ..SessionNotes::default()
        })
    }

    /// `AUTH_TIME` as a number.
    pub fn auth_time(&self) -> Option<i64> {
        self.auth_time.as_deref()?.parse().ok()
    }

    /// Whether the login was "remember me".
    pub fn remember_me(&self) -> bool {
        self.remember_me.as_deref() == Some("true")
    }

    /// The notes as the JSON object protocol mappers read (`oidc-usersessionmodel-note-mapper`).
    pub fn to_map(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        }
    }

    /// Stored notes read straight into the JSON object protocol mappers read (one parse, for
    /// the token endpoint; `parse(data).to_map()` gives the same object).
    pub fn map_of(data: &str) -> Map<String, Value> {
        serde_json::from_str(data).unwrap_or_default()
    }

    /// The stored form.
    pub fn to_json(&self) -> String {
        Value::Object(self.to_map()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::SessionNotes;

    #[test]
    fn stored_notes_parse_and_round_trip() {
        let old = r#"{"AUTH_TIME":"1700000000","REMEMBER_ME":"true","ip":"10.0.0.1","x":"y"}"#;
        let n = SessionNotes::parse(old);
        assert_eq!(SessionNotes::map_of(old), n.to_map(), "both readings agree");
        assert_eq!(n.auth_time(), Some(1_700_000_000));
        assert!(n.remember_me());
        assert_eq!(n.ip.as_deref(), Some("10.0.0.1"));
        assert_eq!(n.extra.get("x"), Some(&json!("y")));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&n.to_json()).ok(),
            serde_json::from_str::<serde_json::Value>(old).ok()
        );
        let plain = SessionNotes::parse(r#"{"AUTH_TIME":"5"}"#);
        assert_eq!((plain.auth_time(), plain.remember_me()), (Some(5), false));
        assert_eq!(SessionNotes::at(5).to_json(), r#"{"AUTH_TIME":"5"}"#);
        // Unexpected types and garbage do not fail the session.
        let odd = SessionNotes::parse(r#"{"AUTH_TIME":5}"#);
        assert_eq!(
            (odd.auth_time(), odd.extra.get("AUTH_TIME")),
            (None, Some(&json!(5)))
        );
        assert_eq!(SessionNotes::parse("not json"), SessionNotes::default());
        assert_eq!(SessionNotes::parse("").to_json(), "{}");
    }
}

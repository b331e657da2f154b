//! The event listeners: `jboss-logging` (Keycloak's log line under the `org.keycloak.events`
//! category, at `success-level` / `error-level`) and the JSON-lines output for log shippers
//! (`--events-json-output`). Every value is escaped so that no value can start a new line or
//! forge a field: control characters, quotes and backslashes never reach a log raw.

use serde_json::{json, Map, Value};

pub use crate::config::events::Level;

use super::{AdminEvent, Event};

/// The name of the JSON-lines listener (server-wide; a realm may not name it).
pub const JSON_LISTENER: &str = "json-lines";

/// A value inside `"..."` of a log line: `"` and `\` escaped, control characters (and the
/// Unicode line and paragraph separators) written as `\n`, `\r`, `\t` or `\uXXXX`.
pub fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

fn field(out: &mut String, key: &str, v: Option<&str>) {
    if !out.is_empty() {
        out.push_str(", ");
    }
    out.push_str(&escape(key));
    out.push('=');
    match v {
        Some(v) => {
            out.push('"');
            out.push_str(&escape(v));
            out.push('"');
        }
        None => out.push_str("null"),
    }
}

/// Keycloak 26's `jboss-logging` line of a login event:
/// `type="LOGIN", realmId="..", realmName="..", clientId="..", userId="..", sessionId="..",
/// ipAddress="..", error="..", <detail>="..", ...`.
pub fn jboss_line(e: &Event) -> String {
    let mut s = String::new();
    field(&mut s, "type", Some(&e.kind));
    field(&mut s, "realmId", Some(&e.realm_id));
    field(&mut s, "realmName", Some(&e.realm_name));
    field(&mut s, "clientId", e.client_id.as_deref());
    field(&mut s, "userId", e.user_id.as_deref());
    field(&mut s, "sessionId", e.session_id.as_deref());
    field(&mut s, "ipAddress", e.ip_address.as_deref());
    if let Some(err) = &e.error {
        field(&mut s, "error", Some(err));
    }
    for (k, v) in &e.details {
        field(&mut s, k, Some(v));
    }
    s
}

/// Keycloak 26's `jboss-logging` line of an admin event.
pub fn jboss_admin_line(e: &AdminEvent) -> String {
    let mut s = String::new();
    field(&mut s, "operationType", Some(&e.operation_type));
    field(&mut s, "realmId", e.auth_realm_id.as_deref());
    field(&mut s, "realmName", Some(&e.realm_name));
    field(&mut s, "clientId", e.auth_client_id.as_deref());
    field(&mut s, "userId", e.auth_user_id.as_deref());
    field(&mut s, "ipAddress", e.ip_address.as_deref());
    field(&mut s, "resourceType", Some(&e.resource_type));
    field(&mut s, "resourcePath", e.resource_path.as_deref());
    s
}

/// A JSON line (`serde_json` escapes C0 controls; this escapes the rest a reader might split
/// a line at: DEL, C1 controls, U+2028 and U+2029). The output has no raw newline.
fn json_text(v: &Value) -> String {
    let s = v.to_string();
    if !s
        .chars()
        .any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}')
    {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// The JSON line of a login event: `timestamp`, `event_type`, `realm`, `user_id`,
/// `username`, `ip_address`, `client_id`, `session_id`, `success`, `details` (with `error`
/// among them on a failure).
pub fn json_line(e: &Event) -> String {
    let mut details: Map<String, Value> = e
        .details
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    if let Some(err) = &e.error {
        details.insert("error".into(), json!(err));
    }
    let username = e
        .details
        .iter()
        .find(|(k, _)| k == "username")
        .map(|(_, v)| v.clone());
    json_text(&json!({
        "timestamp": super::time::iso8601(e.time),
        "event_type": e.kind,
        "realm": e.realm_name,
        "user_id": e.user_id,
        "username": username,
        "ip_address": e.ip_address,
        "client_id": e.client_id,
        "session_id": e.session_id,
        "success": e.error.is_none(),
        "details": details,
    }))
}

/// The JSON line of an admin event: `event_type` is `ADMIN_<operation>`; the caller in
/// `user_id`, `client_id`, `ip_address`; the resource in `details`.
pub fn json_admin_line(e: &AdminEvent) -> String {
    json_text(&json!({
        "timestamp": super::time::iso8601(e.time),
        "event_type": format!("ADMIN_{}", e.operation_type),
        "realm": e.realm_name,
        "user_id": e.auth_user_id,
        "username": Value::Null,
        "ip_address": e.ip_address,
        "client_id": e.auth_client_id,
        "session_id": Value::Null,
        "success": true,
        "details": {
            "operation_type": e.operation_type,
            "resource_type": e.resource_type,
            "resource_path": e.resource_path,
            "auth_realm_id": e.auth_realm_id,
        },
    }))
}

/// Whether lines at `level` under Keycloak's category reach the log.
pub fn enabled(level: Level) -> bool {
    match level {
        Level::Trace => tracing::enabled!(target: "org.keycloak.events", tracing::Level::TRACE),
        Level::Debug => tracing::enabled!(target: "org.keycloak.events", tracing::Level::DEBUG),
        Level::Info => tracing::enabled!(target: "org.keycloak.events", tracing::Level::INFO),
        Level::Warn => tracing::enabled!(target: "org.keycloak.events", tracing::Level::WARN),
        Level::Error => tracing::enabled!(target: "org.keycloak.events", tracing::Level::ERROR),
    }
}

/// Logs a line at `level` under Keycloak's category.
pub fn log(level: Level, line: &str) {
    match level {
        Level::Trace => tracing::trace!(target: "org.keycloak.events", "{line}"),
        Level::Debug => tracing::debug!(target: "org.keycloak.events", "{line}"),
        Level::Info => tracing::info!(target: "org.keycloak.events", "{line}"),
        Level::Warn => tracing::warn!(target: "org.keycloak.events", "{line}"),
        Level::Error => tracing::error!(target: "org.keycloak.events", "{line}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(username: &str) -> Event {
        Event {
            id: "i".into(),
            time: 0,
            kind: "LOGIN_ERROR".into(),
            realm_id: "rid".into(),
            realm_name: "demo".into(),
            client_id: Some("app".into()),
            user_id: None,
            session_id: None,
            ip_address: Some("127.0.0.1".into()),
            error: Some("user_not_found".into()),
            details: vec![
                ("auth_method".into(), "openid-connect".into()),
                ("username".into(), username.into()),
            ],
        }
    }

    #[test]
    fn jboss_lines_are_keycloaks_and_cannot_be_forged() {
        let line = jboss_line(&event("alice"));
        assert_eq!(
            line,
            r#"type="LOGIN_ERROR", realmId="rid", realmName="demo", clientId="app", userId=null, sessionId=null, ipAddress="127.0.0.1", error="user_not_found", auth_method="openid-connect", username="alice""#
        );
        let evil = "bob\"\n2024 WARN type=\"LOGIN\", userId=\"admin\r\u{2028}\u{1b}[31m";
        let line = jboss_line(&event(evil));
        assert!(!line.contains('\n') && !line.contains('\r') && !line.contains('\u{1b}'));
        assert!(!line.contains('\u{2028}'));
        assert!(line.ends_with(
            r#"username="bob\"\n2024 WARN type=\"LOGIN\", userId=\"admin\r\u2028\u001b[31m""#
        ));
    }

    #[test]
    fn json_lines_carry_the_seed_fields_and_stay_one_line() {
        let evil = "eve\n{\"event_type\":\"LOGIN\"}\u{85}\u{2029}";
        let line = json_line(&event(evil));
        assert!(!line.contains('\n') && !line.contains('\u{85}') && !line.contains('\u{2029}'));
        let v: Value = serde_json::from_str(&line).unwrap_or_default();
        assert_eq!(v["event_type"], "LOGIN_ERROR");
        assert_eq!(v["realm"], "demo");
        assert_eq!(v["username"], evil, "the value reads back unchanged");
        assert_eq!(v["success"], false);
        assert_eq!(v["details"]["error"], "user_not_found");
        assert_eq!(v["timestamp"], "1970-01-01T00:00:00.000Z");
        for k in ["user_id", "ip_address", "client_id", "session_id"] {
            assert!(v.get(k).is_some(), "{k}");
        }
    }
}

//! Counters derived from events, rendered on `/metrics` (`crate::metrics`): Keycloak 26's
//! `keycloak_user_events_total` (with `--event-metrics-user-enabled`) and the business
//! metrics `keycloak_logins_total`, `keycloak_token_issued_total`,
//! `keycloak_user_registrations_total` and `keycloak_admin_events_total`.
//!
//! Counted when a flow reports the event (before the queue, so a full queue loses no count),
//! whatever the realm stores. Every label has a bounded set of values: event types, Keycloak's
//! error values, the realm's clients (`unknown` when the client was not found), identity
//! providers, resource and operation types, and the realm name only where Keycloak has it
//! (`keycloak_user_events_total`) or with `--metrics-realm-labels`. Never a user.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::errors;
use crate::config::events::EventMetrics;

/// Labels (name, value), in output order.
pub type Labels = Vec<(&'static str, String)>;

/// A metric's name and its labels.
type Series = (&'static str, Labels);

/// The counters of the process.
#[derive(Debug, Default)]
pub struct Counters {
    config: EventMetrics,
    values: Mutex<BTreeMap<Series, u64>>,
}

/// HELP and TYPE lines of every counter, in output order.
pub const HELP: &[(&str, &str)] = &[
    ("keycloak_user_events_total", "Keycloak user events"),
    (
        "keycloak_logins_total",
        "User logins (LOGIN events) by client and result",
    ),
    (
        "keycloak_token_issued_total",
        "Tokens issued by the token endpoint, by token type (access, refresh)",
    ),
    (
        "keycloak_user_registrations_total",
        "Users who registered themselves (REGISTER events)",
    ),
    (
        "keycloak_admin_events_total",
        "Admin API writes (admin events) by resource type and operation",
    ),
];

/// What a counted login event carries.
#[derive(Debug, Clone, Copy)]
pub struct UserFacts<'a> {
    /// Base type (without `_ERROR`).
    pub kind: &'a str,
    /// Keycloak's error value, on failures.
    pub error: Option<&'a str>,
    /// Realm name.
    pub realm: &'a str,
    /// `clientId`.
    pub client_id: Option<&'a str>,
    /// Details.
    pub details: &'a [(String, String)],
}

impl UserFacts<'_> {
    fn detail(&self, key: &str) -> Option<&str> {
        self.details
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The client label: `unknown` when the client was not found (its id is the caller's
    /// text), as Keycloak's event metrics do.
    fn client(&self) -> String {
        match (self.error, self.client_id) {
            (Some(errors::CLIENT_NOT_FOUND), _) | (_, None) => "unknown".into(),
            (_, Some(c)) => c.to_string(),
        }
    }
}

impl Counters {
    /// Counters for `config`.
    pub fn new(config: EventMetrics) -> Self {
        Counters {
            config,
            values: Mutex::new(BTreeMap::new()),
        }
    }

    fn add(&self, name: &'static str, labels: Vec<(&'static str, String)>, n: u64) {
        if let Ok(mut m) = self.values.lock() {
            *m.entry((name, labels)).or_insert(0) += n;
        }
    }

    fn realm(&self, labels: &mut Vec<(&'static str, String)>, realm: &str) {
        if self.config.realm_labels {
            labels.insert(0, ("realm", realm.to_string()));
        }
    }

    /// Counts a login event.
    pub fn user(&self, f: UserFacts<'_>) {
        let c = &self.config;
        let event = c.user_enabled.then(|| f.kind.to_ascii_lowercase());
        if let Some(event) = event.filter(|e| c.events.is_empty() || c.events.contains(e)) {
            // Keycloak's tags, in its (alphabetical) order.
            let mut labels = Vec::with_capacity(5);
            if c.tag_client_id {
                labels.push(("client_id", f.client()));
            }
            labels.push(("error", f.error.unwrap_or_default().to_string()));
            labels.push(("event", event));
            if c.tag_idp {
                labels.push((
                    "idp",
                    f.detail("identity_provider")
                        .unwrap_or_default()
                        .to_string(),
                ));
            }
            if c.tag_realm {
                labels.push(("realm", f.realm.to_string()));
            }
            self.add("keycloak_user_events_total", labels, 1);
        }
        match f.kind {
            "LOGIN" => {
                let mut labels = vec![
                    ("client_id", f.client()),
                    (
                        "result",
                        if f.error.is_some() {
                            "error"
                        } else {
                            "success"
                        }
                        .to_string(),
                    ),
                ];
                self.realm(&mut labels, f.realm);
                self.add("keycloak_logins_total", labels, 1);
            }
            "REGISTER" if f.error.is_none() => {
                let mut labels = Vec::new();
                self.realm(&mut labels, f.realm);
                self.add("keycloak_user_registrations_total", labels, 1);
            }
            _ => {}
        }
        if f.error.is_none() {
            // The token endpoint's events name what they issued.
            let refresh = if f.kind == "REFRESH_TOKEN" {
                f.detail("updated_refresh_token_id")
            } else {
                f.detail("refresh_token_id")
            };
            for (issued, token_type) in [
                (f.detail("token_id").is_some(), "access"),
                (refresh.is_some(), "refresh"),
            ] {
                if issued {
                    let mut labels = vec![("token_type", token_type.to_string())];
                    self.realm(&mut labels, f.realm);
                    self.add("keycloak_token_issued_total", labels, 1);
                }
            }
        }
    }

    /// Counts an admin event.
    pub fn admin(&self, realm: &str, resource_type: &str, operation: &str) {
        let mut labels = vec![
            ("operation", operation.to_string()),
            ("resource_type", resource_type.to_string()),
        ];
        self.realm(&mut labels, realm);
        self.add("keycloak_admin_events_total", labels, 1);
    }

    /// Every counter: `(name, labels, value)`, by name then labels.
    pub fn snapshot(&self) -> Vec<(&'static str, Labels, u64)> {
        self.values
            .lock()
            .map(|m| m.iter().map(|((n, l), v)| (*n, l.clone(), *v)).collect())
            .unwrap_or_default()
    }

    /// Whether the realm label is on (`--metrics-realm-labels`).
    pub fn realm_labels(&self) -> bool {
        self.config.realm_labels
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_the_options() {
        let c = Counters::new(EventMetrics {
            user_enabled: true,
            tag_realm: true,
            ..Default::default()
        });
        let details = vec![("token_id".to_string(), "t".to_string())];
        c.user(UserFacts {
            kind: "LOGIN",
            error: None,
            realm: "r",
            client_id: Some("web"),
            details: &details,
        });
        c.user(UserFacts {
            kind: "LOGIN",
            error: Some(errors::CLIENT_NOT_FOUND),
            realm: "r",
            client_id: Some("<script>"),
            details: &[],
        });
        let s = c.snapshot();
        let find = |name: &str| -> Vec<String> {
            s.iter()
                .filter(|(n, _, _)| *n == name)
                .map(|(_, l, v)| format!("{l:?}={v}"))
                .collect()
        };
        assert_eq!(
            find("keycloak_user_events_total"),
            vec![
                r#"[("error", ""), ("event", "login"), ("realm", "r")]=1"#,
                r#"[("error", "client_not_found"), ("event", "login"), ("realm", "r")]=1"#
            ]
        );
        assert_eq!(
            find("keycloak_logins_total"),
            vec![
                r#"[("client_id", "unknown"), ("result", "error")]=1"#,
                r#"[("client_id", "web"), ("result", "success")]=1"#
            ],
            "no realm label without --metrics-realm-labels; a client not found is `unknown`"
        );
        assert_eq!(
            find("keycloak_token_issued_total"),
            vec![r#"[("token_type", "access")]=1"#]
        );
    }
}

//! The realm's authentication configuration as Keycloak exports it: `authenticationFlows`
//! (`AuthenticationFlowRepresentation` with `AuthenticationExecutionExportRepresentation`s),
//! `authenticatorConfig` (`AuthenticatorConfigRepresentation`) and `requiredActions`
//! (`RequiredActionProviderRepresentation`). They live in the realm document (its `extra`),
//! read and written through [`AuthDoc`] and [`required_actions`].
//!
//! Keycloak's export gives flows and configs an `id` but executions none; its Admin API
//! addresses executions by id, so each stored execution keeps an `id` here, removed again on
//! export ([`strip_for_export`]). A document stored without ids (older realms, hand-written
//! files) gets ids derived from the realm id and the object's place, the same on every read,
//! and written down with the first change.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{lenient, Extra, RealmRepresentation};

rep! {
    /// `AuthenticationFlowRepresentation`.
    pub struct AuthenticationFlowRepresentation {
        /// Flow id.
        id: String,
        /// Alias (unique in the realm).
        alias: String,
        /// Description.
        description: String,
        /// `basic-flow`, `form-flow` or `client-flow`.
        provider_id: String,
        /// A top-level flow (bindable), not a sub-flow.
        top_level: bool,
        /// Built in: cannot be changed or deleted.
        built_in: bool,
        /// The executions, in priority order.
        authentication_executions: Vec<AuthenticationExecutionExportRepresentation>,
    }
}

rep! {
    /// `AuthenticationExecutionExportRepresentation` (with an `id` kept for the Admin API).
    pub struct AuthenticationExecutionExportRepresentation {
        /// Alias of the `authenticatorConfig` it uses.
        authenticator_config: String,
        /// Provider id of the authenticator (or of a form flow's form).
        authenticator: String,
        /// The execution is a sub-flow (`flowAlias`).
        authenticator_flow: bool,
        /// `REQUIRED`, `ALTERNATIVE`, `CONDITIONAL` or `DISABLED`.
        requirement: String,
        /// Order in the flow (ascending).
        priority: i64,
        /// Keycloak's misspelt duplicate of `authenticatorFlow`, exported as Keycloak does.
        autheticator_flow: bool,
        /// Alias of the sub-flow.
        flow_alias: String,
        /// User setup allowed.
        user_setup_allowed: bool,
        /// Execution id (internal; not exported).
        id: String,
    }
}

rep! {
    /// `AuthenticatorConfigRepresentation`.
    pub struct AuthenticatorConfigRepresentation {
        /// Config id.
        id: String,
        /// Alias (executions name their config by it in an export).
        alias: String,
        /// Settings.
        config: IndexMap<String, Value>,
    }
}

rep! {
    /// `RequiredActionProviderRepresentation`.
    pub struct RequiredActionProviderRepresentation {
        /// Alias (the Admin API's key).
        alias: String,
        /// Display name.
        name: String,
        /// Provider id.
        provider_id: String,
        /// Enabled.
        enabled: bool,
        /// Added to every new user.
        default_action: bool,
        /// Order (ascending).
        priority: i64,
        /// Settings.
        config: IndexMap<String, Value>,
    }
}

/// The realm fields naming a top-level flow by alias (its bindings).
pub const FLOW_BINDINGS: &[&str] = &[
    "browserFlow",
    "registrationFlow",
    "directGrantFlow",
    "resetCredentialsFlow",
    "clientAuthenticationFlow",
    "dockerAuthenticationFlow",
    "firstBrokerLoginFlow",
];

/// A deterministic UUID for an object of realm `realm_id` found at `place`.
fn derived_id(realm_id: &str, place: &str) -> String {
    let d = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("portcullis-auth-id\0{realm_id}\0{place}").as_bytes(),
    );
    let mut b = [0u8; 16];
    b.copy_from_slice(&d.as_ref()[..16]);
    uuid::Builder::from_random_bytes(b).into_uuid().to_string()
}

/// Why the stored authentication configuration cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("the realm's {field} cannot be read: {message}")]
pub struct DocError {
    field: &'static str,
    message: String,
}

fn read<T: serde::de::DeserializeOwned>(
    extra: &Extra,
    field: &'static str,
) -> Result<Vec<T>, DocError> {
    match extra.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(v) => serde_path_to_error::deserialize(v).map_err(|e| DocError {
            field,
            message: format!("{}: {}", e.path(), e.inner()),
        }),
    }
}

fn write<T: Serialize>(extra: &mut Extra, field: &str, v: &[T]) -> Result<(), DocError> {
    let v = serde_json::to_value(v).map_err(|e| DocError {
        field: "authentication configuration",
        message: e.to_string(),
    })?;
    extra.insert(field.to_string(), v);
    Ok(())
}

/// A realm's flows and authenticator configs, every flow, execution and config with an id.
#[derive(Debug, Clone, Default)]
pub struct AuthDoc {
    /// `authenticationFlows`, executions of each sorted by priority.
    pub flows: Vec<AuthenticationFlowRepresentation>,
    /// `authenticatorConfig`.
    pub configs: Vec<AuthenticatorConfigRepresentation>,
}

impl AuthDoc {
    /// Reads them from the realm document.
    pub fn read(rep: &RealmRepresentation) -> Result<Self, DocError> {
        let mut doc = AuthDoc {
            flows: read(&rep.extra, "authenticationFlows")?,
            configs: read(&rep.extra, "authenticatorConfig")?,
        };
        doc.ensure_ids(rep.id.as_deref().unwrap_or_default());
        Ok(doc)
    }

    /// Writes them back into the realm document.
    pub fn write(&self, rep: &mut RealmRepresentation) -> Result<(), DocError> {
        write(&mut rep.extra, "authenticationFlows", &self.flows)?;
        write(&mut rep.extra, "authenticatorConfig", &self.configs)
    }

    fn ensure_ids(&mut self, realm_id: &str) {
        for f in &mut self.flows {
            let alias = f.alias.clone().unwrap_or_default();
            let flow_id =
                f.id.get_or_insert_with(|| derived_id(realm_id, &format!("flow\0{alias}")))
                    .clone();
            let execs = f.authentication_executions.get_or_insert_with(Vec::new);
            // Keycloak keeps executions ordered by priority (`ExecutionComparator`).
            execs.sort_by_key(|e| e.priority.unwrap_or(0));
            for (i, e) in execs.iter_mut().enumerate() {
                e.id.get_or_insert_with(|| derived_id(realm_id, &format!("exec\0{flow_id}\0{i}")));
            }
        }
        for (i, c) in self.configs.iter_mut().enumerate() {
            let alias = c.alias.clone().unwrap_or_default();
            c.id.get_or_insert_with(|| derived_id(realm_id, &format!("config\0{i}\0{alias}")));
        }
    }

    /// A flow by id.
    pub fn flow(&self, id: &str) -> Option<&AuthenticationFlowRepresentation> {
        self.flows.iter().find(|f| f.id.as_deref() == Some(id))
    }

    /// A flow by alias.
    pub fn flow_by_alias(&self, alias: &str) -> Option<&AuthenticationFlowRepresentation> {
        self.flows
            .iter()
            .find(|f| f.alias.as_deref() == Some(alias))
    }

    /// A config by id.
    pub fn config(&self, id: &str) -> Option<&AuthenticatorConfigRepresentation> {
        self.configs.iter().find(|c| c.id.as_deref() == Some(id))
    }

    /// A config by alias.
    pub fn config_by_alias(&self, alias: &str) -> Option<&AuthenticatorConfigRepresentation> {
        self.configs
            .iter()
            .find(|c| c.alias.as_deref() == Some(alias))
    }

    /// An execution by id: its flow's index and its own index there.
    pub fn execution(&self, id: &str) -> Option<(usize, usize)> {
        self.flows.iter().enumerate().find_map(|(fi, f)| {
            f.authentication_executions
                .iter()
                .flatten()
                .position(|e| e.id.as_deref() == Some(id))
                .map(|ei| (fi, ei))
        })
    }
}

/// The realm's required actions, ordered by priority as Keycloak lists them.
pub fn required_actions(
    rep: &RealmRepresentation,
) -> Result<Vec<RequiredActionProviderRepresentation>, DocError> {
    let mut list: Vec<RequiredActionProviderRepresentation> = read(&rep.extra, "requiredActions")?;
    // `RealmModel.getRequiredActionProvidersStream`: by priority, then by name.
    list.sort_by(|a, b| {
        (a.priority.unwrap_or(0), a.name.as_deref())
            .cmp(&(b.priority.unwrap_or(0), b.name.as_deref()))
    });
    Ok(list)
}

/// Writes the realm's required actions.
pub fn set_required_actions(
    rep: &mut RealmRepresentation,
    list: &[RequiredActionProviderRepresentation],
) -> Result<(), DocError> {
    write(&mut rep.extra, "requiredActions", list)
}

/// Removes what only Portcullis keeps (the executions' ids) from an exported realm object.
pub fn strip_for_export(realm: &mut Map<String, Value>) {
    if let Some(flows) = realm
        .get_mut("authenticationFlows")
        .and_then(Value::as_array_mut)
    {
        for f in flows {
            if let Some(execs) = f
                .get_mut("authenticationExecutions")
                .and_then(Value::as_array_mut)
            {
                for e in execs.iter_mut().filter_map(Value::as_object_mut) {
                    e.remove("id");
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn realm() -> RealmRepresentation {
        serde_json::from_value(json!({
            "id": "r1",
            "authenticationFlows": [
                {"alias": "browser", "providerId": "basic-flow", "topLevel": true, "builtIn": true,
                 "authenticationExecutions": [
                    {"authenticator": "b", "requirement": "REQUIRED", "priority": 20},
                    {"authenticator": "a", "requirement": "ALTERNATIVE", "priority": 10}
                 ]}
            ],
            "authenticatorConfig": [{"alias": "c", "config": {"k": "v"}}],
            "requiredActions": [
                {"alias": "B", "name": "B", "priority": 20},
                {"alias": "A", "name": "A", "priority": 10}
            ]
        }))
        .unwrap()
    }

    #[test]
    fn ids_are_derived_the_same_on_every_read_and_kept_once_written() {
        let mut rep = realm();
        let a = AuthDoc::read(&rep).unwrap();
        let b = AuthDoc::read(&rep).unwrap();
        let ids = |d: &AuthDoc| {
            let f = &d.flows[0];
            let mut v = vec![f.id.clone().unwrap(), d.configs[0].id.clone().unwrap()];
            v.extend(
                f.authentication_executions
                    .iter()
                    .flatten()
                    .map(|e| e.id.clone().unwrap()),
            );
            v
        };
        assert_eq!(ids(&a), ids(&b));
        assert_eq!(ids(&a).len(), 4);
        // Executions are in priority order.
        let first = &a.flows[0].authentication_executions.as_ref().unwrap()[0];
        assert_eq!(first.authenticator.as_deref(), Some("a"));
        a.write(&mut rep).unwrap();
        // Once written, a rename keeps the id.
        let mut c = AuthDoc::read(&rep).unwrap();
        c.flows[0].alias = Some("renamed".into());
        c.write(&mut rep).unwrap();
        assert_eq!(ids(&AuthDoc::read(&rep).unwrap()), ids(&a));
        // Another realm gets other ids.
        let mut other = realm();
        other.id = Some("r2".into());
        assert_ne!(ids(&AuthDoc::read(&other).unwrap()), ids(&a));
    }

    #[test]
    fn export_drops_the_execution_ids_only() {
        let mut rep = realm();
        AuthDoc::read(&rep).unwrap().write(&mut rep).unwrap();
        let mut v = serde_json::to_value(&rep).unwrap();
        strip_for_export(v.as_object_mut().unwrap());
        let f = &v["authenticationFlows"][0];
        assert!(f["id"].is_string());
        assert!(f["authenticationExecutions"][0].get("id").is_none());
        assert!(v["authenticatorConfig"][0]["id"].is_string());
    }

    #[test]
    fn required_actions_are_listed_by_priority() {
        let list = required_actions(&realm()).unwrap();
        let aliases: Vec<_> = list.iter().map(|a| a.alias.clone().unwrap()).collect();
        assert_eq!(aliases, ["A", "B"]);
    }
}

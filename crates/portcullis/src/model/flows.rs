//! The realm's authentication flows compiled into typed data, once per realm snapshot: each
//! flow a list of executions with a [`Requirement`] and either an [`Authenticator`] (a known
//! provider id, its config resolved) or a sub-flow (an index). The login engine
//! (`authn::engine`) walks this; nothing reads `authenticationFlows` JSON per request.
//!
//! [`compile`] refuses what Keycloak could not run either: an unknown provider id, a sub-flow
//! or a config that does not exist, a bound flow that does not exist. The error names the
//! flow and the execution.

use std::collections::HashMap;
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value;

use crate::representation::authentication::AuthDoc;
use crate::representation::RealmRepresentation;

/// An execution's requirement (`AuthenticationExecutionModel.Requirement`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// Must succeed.
    Required,
    /// One of the alternatives of its flow must succeed.
    Alternative,
    /// A sub-flow run only when its conditions hold.
    Conditional,
    /// Ignored.
    Disabled,
}

impl Requirement {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "REQUIRED" => Requirement::Required,
            "ALTERNATIVE" => Requirement::Alternative,
            "CONDITIONAL" => Requirement::Conditional,
            "DISABLED" => Requirement::Disabled,
            _ => return None,
        })
    }
}

/// The authenticators the engine runs, by Keycloak provider id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    /// `auth-cookie`: the SSO session.
    Cookie,
    /// `auth-spnego`: Kerberos, not supported (refused when enabled in a run flow).
    Spnego,
    /// `identity-provider-redirector`: attempted until brokering.
    IdpRedirector,
    /// `auth-username-password-form`.
    UsernamePasswordForm,
    /// `auth-username-form` (identity-first).
    UsernameForm,
    /// `auth-password-form` (identity-first).
    PasswordForm,
    /// `auth-otp-form`.
    OtpForm,
    /// `auth-conditional-otp-form`: the OTP form, shown or skipped by its config
    /// (`ConditionalOtpFormAuthenticator`).
    ConditionalOtpForm,
    /// `deny-access-authenticator`.
    DenyAccess,
    /// `allow-access-authenticator`.
    AllowAccess,
    /// `organization`: attempted until organization-aware login.
    Organization,
    /// `conditional-user-configured`.
    CondUserConfigured,
    /// `conditional-user-role`.
    CondUserRole,
    /// `conditional-credential`.
    CondCredential,
    /// `conditional-level-of-authentication` (step-up, Keycloak's `ConditionalLoaAuthenticator`).
    CondLoa,
    /// `webauthn-authenticator`: WebAuthn as a second factor.
    WebAuthn,
    /// `auth-recovery-authn-code-form`: a recovery authentication code.
    RecoveryCodeForm,
    /// `webauthn-authenticator-passwordless`: a passkey (the user may be unknown before).
    WebAuthnPasswordless,
    /// `direct-grant-validate-username`.
    DirectUsername,
    /// `direct-grant-validate-password`.
    DirectPassword,
    /// `direct-grant-validate-otp`.
    DirectOtp,
    /// A provider Keycloak has that the browser and direct grant flows do not run: the steps of
    /// the flows with drivers of their own (reset credentials, the first broker login's
    /// `idp-*`, registration), or not run at all (client authentication, ...): a flow may name
    /// it, and a driver that does not know it refuses to run it.
    NotRun(&'static str),
}

/// Known provider ids that the engine does not run (Keycloak's built-ins).
const NOT_RUN: &[&str] = &[
    "reset-credentials-choose-user",
    "reset-credential-email",
    "reset-password",
    "reset-otp",
    "idp-review-profile",
    "idp-create-user-if-unique",
    "idp-confirm-link",
    "idp-email-verification",
    "idp-username-password-form",
    "idp-auto-link",
    "idp-detect-existing-broker-user",
    "idp-add-organization-member",
    "http-basic-authenticator",
    "docker-http-basic-authenticator",
    "registration-page-form",
    "registration-user-creation",
    "registration-password-action",
    "registration-recaptcha-action",
    "registration-recaptcha-enterprise",
    "registration-terms-and-conditions",
    "client-secret",
    "client-jwt",
    "client-secret-jwt",
    "client-x509",
    "federated-jwt",
    "user-session-limits",
    "auth-x509-client-username-form",
    "direct-grant-auth-x509-username",
];

impl Provider {
    /// The provider of an id, `None` for an unknown one.
    pub fn parse(id: &str) -> Option<Self> {
        Some(match id {
            "auth-cookie" => Provider::Cookie,
            "auth-spnego" => Provider::Spnego,
            "identity-provider-redirector" => Provider::IdpRedirector,
            "auth-username-password-form" => Provider::UsernamePasswordForm,
            "auth-username-form" => Provider::UsernameForm,
            "auth-password-form" => Provider::PasswordForm,
            "auth-otp-form" => Provider::OtpForm,
            "auth-conditional-otp-form" => Provider::ConditionalOtpForm,
            "webauthn-authenticator" => Provider::WebAuthn,
            "auth-recovery-authn-code-form" => Provider::RecoveryCodeForm,
            "webauthn-authenticator-passwordless" => Provider::WebAuthnPasswordless,
            "deny-access-authenticator" => Provider::DenyAccess,
            "allow-access-authenticator" => Provider::AllowAccess,
            "organization" => Provider::Organization,
            "conditional-user-configured" => Provider::CondUserConfigured,
            "conditional-user-role" => Provider::CondUserRole,
            "conditional-credential" => Provider::CondCredential,
            "conditional-level-of-authentication" => Provider::CondLoa,
            "direct-grant-validate-username" => Provider::DirectUsername,
            "direct-grant-validate-password" => Provider::DirectPassword,
            "direct-grant-validate-otp" => Provider::DirectOtp,
            other => Provider::NotRun(NOT_RUN.iter().find(|n| **n == other)?),
        })
    }

    /// A condition (`ConditionalAuthenticator`): evaluated for its sub-flow, never run.
    pub fn is_condition(self) -> bool {
        matches!(
            self,
            Provider::CondUserConfigured
                | Provider::CondUserRole
                | Provider::CondCredential
                | Provider::CondLoa
        )
    }

    /// The user may set the credential up during the login (`isUserSetupAllowed`): a
    /// `REQUIRED` execution of it that the user has no credential for runs anyway and adds its
    /// required action (`CONFIGURE_TOTP` for the OTP form).
    pub fn user_setup_allowed(self) -> bool {
        matches!(
            self,
            Provider::OtpForm
                | Provider::ConditionalOtpForm
                | Provider::WebAuthn
                | Provider::WebAuthnPasswordless
                | Provider::RecoveryCodeForm
        )
    }

    /// Runs without a user (a passkey names it), but after a step that identified the user
    /// it is skipped, or sets up its credential, as one that needs the user: Keycloak's
    /// passwordless flow (username form, then a passkey or the password and a second factor).
    pub fn configured_when_user_known(self) -> bool {
        self == Provider::WebAuthnPasswordless
    }

    /// Needs a user identified by an earlier step (`Authenticator.requiresUser`).
    pub fn requires_user(self) -> bool {
        matches!(
            self,
            Provider::PasswordForm
                | Provider::OtpForm
                | Provider::ConditionalOtpForm
                | Provider::WebAuthn
                | Provider::RecoveryCodeForm
                | Provider::DirectPassword
                | Provider::DirectOtp
                | Provider::CondUserConfigured
                | Provider::CondUserRole
                | Provider::CondCredential
        )
    }

    /// The credential type the user must have for it (`configuredFor`), if any.
    pub fn credential_type(self) -> Option<&'static str> {
        match self {
            Provider::PasswordForm | Provider::DirectPassword => Some("password"),
            Provider::OtpForm | Provider::ConditionalOtpForm | Provider::DirectOtp => Some("otp"),
            Provider::WebAuthn => Some("webauthn"),
            Provider::WebAuthnPasswordless => Some("webauthn-passwordless"),
            Provider::RecoveryCodeForm => Some("recovery-authn-codes"),
            _ => None,
        }
    }
}

/// An authenticator execution.
#[derive(Debug, Clone, PartialEq)]
pub struct Authenticator {
    /// Which.
    pub provider: Provider,
    /// Its config's settings (`authenticatorConfig`), if it names one.
    pub config: Option<Arc<IndexMap<String, Value>>>,
}

impl Authenticator {
    /// A config setting as a string (Keycloak's config values are strings).
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.config.as_ref()?.get(key)?.as_str()
    }

    /// What `deny-access-authenticator` answers: its `denyErrorMessage`, else Keycloak's
    /// default.
    pub fn deny_message(&self) -> &str {
        self.setting("denyErrorMessage")
            .filter(|m| !m.is_empty())
            .unwrap_or("Access denied")
    }
}

/// What an execution runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// An authenticator.
    Authenticator(Authenticator),
    /// A sub-flow: its index in [`Flows::flows`].
    Flow(usize),
}

/// One execution of a flow.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    /// Its id (stable across requests: the engine records its status by it).
    pub id: String,
    /// Requirement.
    pub requirement: Requirement,
    /// What it runs.
    pub step: Step,
}

/// One flow.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    /// Alias.
    pub alias: String,
    /// Executions in priority order.
    pub executions: Vec<Execution>,
}

/// A realm's compiled flows and their bindings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Flows {
    /// Every flow.
    pub flows: Vec<Flow>,
    /// `browserFlow`.
    pub browser: Option<usize>,
    /// `directGrantFlow`.
    pub direct_grant: Option<usize>,
    /// `registrationFlow` (none when the realm names no flow, or one it lacks: registration
    /// then answers an error page instead of refusing the realm).
    pub registration: Option<usize>,
    /// Per-client overrides (`authenticationFlowBindingOverrides`), by clientId:
    /// (browser, direct grant).
    pub overrides: HashMap<String, (Option<usize>, Option<usize>)>,
}

impl Flows {
    /// The browser flow for a client (its override, else the realm's).
    pub fn browser_for(&self, client_id: Option<&str>) -> Option<usize> {
        client_id
            .and_then(|c| self.overrides.get(c))
            .and_then(|o| o.0)
            .or(self.browser)
    }

    /// The direct grant flow for a client (its override, else the realm's).
    pub fn direct_grant_for(&self, client_id: Option<&str>) -> Option<usize> {
        client_id
            .and_then(|c| self.overrides.get(c))
            .and_then(|o| o.1)
            .or(self.direct_grant)
    }
}

/// Why a realm's flows cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct FlowError {
    /// Where (`authenticationFlows[browser].authenticationExecutions[2]`).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

fn ferr(path: String, message: String) -> FlowError {
    FlowError { path, message }
}

/// Compiles the realm's flows (from its representation) and bindings.
pub fn compile(rep: &RealmRepresentation) -> Result<Flows, FlowError> {
    let doc = AuthDoc::read(rep).map_err(|e| ferr("authenticationFlows".into(), e.to_string()))?;
    let mut by_alias = HashMap::new();
    for (i, f) in doc.flows.iter().enumerate() {
        let alias = f.alias.clone().unwrap_or_default();
        if by_alias.insert(alias.clone(), i).is_some() {
            return Err(ferr(
                format!("authenticationFlows[{alias}]"),
                format!("duplicate flow alias '{alias}'"),
            ));
        }
    }
    let configs: HashMap<&str, Arc<IndexMap<String, Value>>> = doc
        .configs
        .iter()
        .flat_map(|c| {
            let settings = Arc::new(c.config.clone().unwrap_or_default());
            // Executions name a config by alias in an export, by id through the Admin API.
            [c.alias.as_deref(), c.id.as_deref()]
                .into_iter()
                .flatten()
                .map(move |k| (k, settings.clone()))
        })
        .collect();
    let mut flows = Vec::with_capacity(doc.flows.len());
    for f in &doc.flows {
        let alias = f.alias.clone().unwrap_or_default();
        let mut executions = Vec::new();
        for (n, e) in f.authentication_executions.iter().flatten().enumerate() {
            let at = || format!("authenticationFlows[{alias}].authenticationExecutions[{n}]");
            let name = e
                .authenticator
                .clone()
                .or_else(|| e.flow_alias.clone())
                .unwrap_or_default();
            let requirement = e
                .requirement
                .as_deref()
                .map(|r| {
                    Requirement::parse(r).ok_or_else(|| {
                        ferr(
                            at(),
                            format!(
                                "execution '{name}' of flow '{alias}' has an unknown requirement '{r}'"
                            ),
                        )
                    })
                })
                .transpose()?
                .unwrap_or(Requirement::Disabled);
            let is_flow = e.authenticator_flow == Some(true) || e.autheticator_flow == Some(true);
            let step = if is_flow {
                let sub = e.flow_alias.as_deref().unwrap_or_default();
                let &i = by_alias.get(sub).ok_or_else(|| {
                    ferr(
                        at(),
                        format!("flow '{alias}' names the sub-flow '{sub}', which does not exist"),
                    )
                })?;
                Step::Flow(i)
            } else {
                let id = e.authenticator.as_deref().unwrap_or_default();
                let provider = Provider::parse(id).ok_or_else(|| {
                    ferr(
                        at(),
                        format!(
                            "execution '{id}' of flow '{alias}' names an unknown authenticator provider"
                        ),
                    )
                })?;
                let config = match e.authenticator_config.as_deref() {
                    None => None,
                    Some(c) => Some(configs.get(c).cloned().ok_or_else(|| {
                        ferr(
                            at(),
                            format!("execution '{id}' of flow '{alias}' names the authenticator config '{c}', which does not exist"),
                        )
                    })?),
                };
                Step::Authenticator(Authenticator { provider, config })
            };
            executions.push(Execution {
                id: e.id.clone().unwrap_or_default(),
                requirement,
                step,
            });
        }
        flows.push(Flow { alias, executions });
    }
    check_cycles(&flows)?;
    let binding = |field: &str| -> Result<Option<usize>, FlowError> {
        match rep.extra.get(field).and_then(Value::as_str) {
            None => Ok(None),
            Some(a) => by_alias.get(a).copied().map(Some).ok_or_else(|| {
                ferr(
                    field.to_string(),
                    format!("the realm's {field} '{a}' does not exist"),
                )
            }),
        }
    };
    let browser = binding("browserFlow")?;
    let direct_grant = binding("directGrantFlow")?;
    let registration = binding("registrationFlow").ok().flatten();
    let mut overrides = HashMap::new();
    for (ci, c) in rep.clients.iter().flatten().enumerate() {
        let Some(o) = c
            .extra
            .get("authenticationFlowBindingOverrides")
            .and_then(Value::as_object)
        else {
            continue;
        };
        let by_id = |key: &str| -> Result<Option<usize>, FlowError> {
            match o.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()) {
                None => Ok(None),
                Some(id) => doc
                    .flows
                    .iter()
                    .position(|f| f.id.as_deref() == Some(id) || f.alias.as_deref() == Some(id))
                    .map(Some)
                    .ok_or_else(|| {
                        ferr(
                            format!("clients[{ci}].authenticationFlowBindingOverrides.{key}"),
                            format!("the flow '{id}' does not exist"),
                        )
                    }),
            }
        };
        let pair = (by_id("browser")?, by_id("direct_grant")?);
        if let Some(cid) = &c.client_id {
            overrides.insert(cid.clone(), pair);
        }
    }
    Ok(Flows {
        flows,
        browser,
        direct_grant,
        registration,
        overrides,
    })
}

/// A flow that contains itself (through sub-flows) would never end.
fn check_cycles(flows: &[Flow]) -> Result<(), FlowError> {
    fn visit(flows: &[Flow], i: usize, stack: &mut Vec<usize>) -> Result<(), FlowError> {
        if stack.contains(&i) {
            let alias = &flows[i].alias;
            return Err(ferr(
                format!("authenticationFlows[{alias}]"),
                format!("flow '{alias}' contains itself through its sub-flows"),
            ));
        }
        stack.push(i);
        for e in &flows[i].executions {
            if let Step::Flow(sub) = e.step {
                visit(flows, sub, stack)?;
            }
        }
        stack.pop();
        Ok(())
    }
    (0..flows.len()).try_for_each(|i| visit(flows, i, &mut Vec::new()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rep(v: Value) -> RealmRepresentation {
        serde_json::from_value(v).unwrap()
    }

    fn simple(execs: Value) -> Value {
        json!({
            "realm": "r", "browserFlow": "b",
            "authenticationFlows": [
                { "alias": "b", "providerId": "basic-flow", "topLevel": true, "authenticationExecutions": execs },
                { "alias": "sub", "providerId": "basic-flow", "topLevel": false, "authenticationExecutions": [] }
            ],
            "authenticatorConfig": [ { "alias": "cfg", "config": { "condUserRole": "admin" } } ]
        })
    }

    #[test]
    fn compiles_steps_sub_flows_and_configs() {
        let f = compile(&rep(simple(json!([
            { "authenticator": "auth-cookie", "requirement": "ALTERNATIVE", "priority": 10 },
            { "authenticatorFlow": true, "flowAlias": "sub", "requirement": "CONDITIONAL", "priority": 20 },
            { "authenticator": "conditional-user-role", "authenticatorConfig": "cfg", "requirement": "REQUIRED", "priority": 30 }
        ]))))
        .unwrap();
        let b = &f.flows[f.browser.unwrap()];
        assert_eq!(b.alias, "b");
        assert_eq!(b.executions.len(), 3);
        assert_eq!(b.executions[1].step, Step::Flow(1));
        assert_eq!(b.executions[1].requirement, Requirement::Conditional);
        let Step::Authenticator(a) = &b.executions[2].step else {
            panic!()
        };
        assert_eq!(a.provider, Provider::CondUserRole);
        assert_eq!(a.setting("condUserRole"), Some("admin"));
    }

    #[test]
    fn first_broker_login_flows_know_the_idp_authenticators() {
        let ids = [
            "idp-review-profile",
            "idp-create-user-if-unique",
            "idp-detect-existing-broker-user",
            "idp-confirm-link",
            "idp-email-verification",
            "idp-username-password-form",
            "idp-auto-link",
            "idp-add-organization-member",
        ];
        let execs: Vec<Value> = ids
            .iter()
            .map(|id| json!({ "authenticator": id, "requirement": "ALTERNATIVE" }))
            .collect();
        let mut r = simple(json!(execs));
        r["firstBrokerLoginFlow"] = json!("b");
        let f = compile(&rep(r)).unwrap();
        let b = &f.flows[f.browser.unwrap()];
        for (e, id) in b.executions.iter().zip(ids) {
            assert_eq!(
                e.step,
                Step::Authenticator(Authenticator {
                    provider: Provider::NotRun(id),
                    config: None
                })
            );
        }
        // A misspelt one is refused at import, naming it and its flow.
        let mut r =
            simple(json!([{ "authenticator": "idp-auto-links", "requirement": "REQUIRED" }]));
        r["firstBrokerLoginFlow"] = json!("b");
        let e = compile(&rep(r)).unwrap_err();
        assert!(
            e.message.contains("'idp-auto-links'") && e.message.contains("unknown authenticator"),
            "{e}"
        );
    }

    #[test]
    fn refuses_unknown_providers_missing_sub_flows_and_configs() {
        let e = compile(&rep(simple(
            json!([{ "authenticator": "no-such", "requirement": "REQUIRED" }]),
        )))
        .unwrap_err();
        assert_eq!(e.path, "authenticationFlows[b].authenticationExecutions[0]");
        assert!(e.message.contains("'no-such'") && e.message.contains("'b'"));
        let e = compile(&rep(simple(
            json!([{ "authenticatorFlow": true, "flowAlias": "gone", "requirement": "REQUIRED" }]),
        )))
        .unwrap_err();
        assert!(e.message.contains("sub-flow 'gone'"), "{e}");
        let e = compile(&rep(simple(json!([{ "authenticator": "auth-cookie", "authenticatorConfig": "nope", "requirement": "REQUIRED" }])))).unwrap_err();
        assert!(e.message.contains("config 'nope'"), "{e}");
        let mut r = simple(json!([]));
        r["browserFlow"] = json!("missing");
        assert_eq!(compile(&rep(r)).unwrap_err().path, "browserFlow");
        let e = compile(&rep(json!({ "realm": "r", "authenticationFlows": [
            { "alias": "a", "authenticationExecutions": [ { "authenticatorFlow": true, "flowAlias": "a", "requirement": "REQUIRED" } ] }
        ]}))).unwrap_err();
        assert!(e.message.contains("contains itself"), "{e}");
    }

    #[test]
    fn client_overrides_by_flow_id() {
        let mut r = simple(json!([]));
        r["authenticationFlows"][1]["id"] = json!("sub-id");
        r["clients"] = json!([{ "clientId": "app", "authenticationFlowBindingOverrides": { "browser": "sub-id" } }]);
        let f = compile(&rep(r)).unwrap();
        assert_eq!(f.browser_for(Some("app")), Some(1));
        assert_eq!(f.browser_for(Some("other")), Some(0));
        assert_eq!(f.direct_grant_for(Some("app")), None);
    }

    #[test]
    fn keycloak_default_flows_compile() {
        let tpl = include_str!("../realm/defaults/new-realm.json");
        let mut v: Value = serde_json::from_str(tpl).unwrap();
        v["realm"] = json!("r");
        let f = compile(&rep(v)).unwrap();
        assert_eq!(f.flows[f.browser.unwrap()].alias, "browser");
        assert_eq!(f.flows[f.direct_grant.unwrap()].alias, "direct grant");
    }
}

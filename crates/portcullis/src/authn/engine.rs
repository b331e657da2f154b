//! The flow engine: Keycloak's `DefaultAuthenticationFlow` over the realm's compiled flows
//! ([`crate::model::flows`]), as a pure planner. Given the flow, what the steps so far
//! recorded ([`FlowState`]) and what is known of the user ([`Facts`]), [`plan`] answers the
//! next authenticator to run, or that the flow succeeded or failed. The drivers
//! ([`super::browser`], the password grant) run the step, record its outcome and ask again;
//! a step that shows a page ends the request, and the next form post resumes at the same
//! execution.
//!
//! Semantics (as Keycloak's): in a flow, `REQUIRED` and `CONDITIONAL` executions all run in
//! order, and when there are any, the `ALTERNATIVE` ones are ignored; otherwise the first
//! alternative to succeed makes the flow succeed (an attempted or skipped alternative moves on
//! to the next). A `CONDITIONAL` sub-flow runs only when all its enabled conditions
//! (`conditional-*`) hold, and none means it is skipped. An authenticator that needs a user
//! before one is identified fails the flow; one the user has no credential for is skipped as
//! an alternative and fails the flow when required. `DISABLED` executions do not exist.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::flows::{Authenticator, Execution, Flows, Provider, Requirement, Step};

/// An execution's recorded outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// It succeeded.
    Success,
    /// It ran and did not apply (`ATTEMPTED`): the next alternative is tried.
    Attempted,
    /// The user has no credential for it and it added its required action instead
    /// (`SETUP_REQUIRED`); the flow goes on as if it succeeded.
    SetupRequired,
}

/// What a login's steps recorded so far (kept in the pending login between requests).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FlowState {
    /// Outcome of each execution that ran, by execution id.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub status: BTreeMap<String, Status>,
    /// The user identified so far (user id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The execution whose page was shown last: the next form post is its.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub challenged: Option<String>,
    /// Credential types used to authenticate (`password`, `otp`), in order (Keycloak's
    /// `AuthenticatorUtil.getAuthnCredentials`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub credentials: Vec<String>,
    /// The SSO session the cookie step found: the login reuses it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sso: Option<(String, i64)>,
    /// The executions of authenticators that succeeded in this login and when (Keycloak's
    /// `AUTHENTICATORS_COMPLETED` note), for the `amr` claim.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub completed: BTreeMap<String, i64>,
    /// The level of authentication the request asks for (Keycloak's client note
    /// `REQUESTED_LEVEL_OF_AUTHENTICATION`, from `acr_values`, `claims` and the client's
    /// defaults through the `acr.loa.map`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_loa: Option<i64>,
    /// The requested level came from an essential `acr` claim: a login that does not reach it
    /// fails (client note `FORCE_LEVEL_OF_AUTHENTICATION`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub force_loa: bool,
    /// The level the SSO session already gave this login (auth note
    /// `LEVEL_OF_AUTHENTICATION` as the cookie step sets it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loa: Option<i64>,
    /// The levels authenticated in the session and when (Keycloak's `loa-map` note: level ->
    /// seconds), read from the SSO session and updated as level sub-flows succeed.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub loa_map: BTreeMap<i64, i64>,
    /// The session needs a full re-authentication (`prompt=login`, `max_age` or a
    /// `kc_action`'s `max_auth_age` passed): levels of earlier logins do not count (auth note
    /// `FORCED_REAUTHENTICATION`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reauth: bool,
    /// The SSO session this browser holds (its cookie), which the login re-authenticates
    /// instead of starting a new one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub browser_session: Option<String>,
    /// The credential type of the request's application-initiated action (`CONFIGURE_TOTP`:
    /// `otp`, `UPDATE_PASSWORD`: `password`; Keycloak's `CredentialAction`), which asks for
    /// the level of that credential (see [`kc_action_level`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kc_credential: Option<String>,
}

impl FlowState {
    /// Nothing recorded yet.
    pub fn is_empty(&self) -> bool {
        self == &FlowState::default()
    }

    /// Records an execution's outcome.
    pub fn record(&mut self, execution: &str, status: Status) {
        self.status.insert(execution.to_string(), status);
        if self.challenged.as_deref() == Some(execution) {
            self.challenged = None;
        }
    }

    /// Records a credential used (once each).
    pub fn used(&mut self, credential_type: &str) {
        if !self.credentials.iter().any(|c| c == credential_type) {
            self.credentials.push(credential_type.to_string());
        }
    }
}

/// What the planner needs to know of the identified user.
pub trait Facts {
    /// The user has a credential of this type (`configuredFor`).
    fn has_credential(&self, credential_type: &str) -> bool;
    /// The user has this role (`conditional-user-role`'s `condUserRole`: a realm role name, or
    /// `clientId roleName` for a client role as Keycloak's role reference is written).
    fn has_role(&self, role: &str) -> bool;
    /// The realm enables organizations and has some: the `organization` step is configured
    /// (`OrganizationAuthenticator.configuredFor`, which needs no user).
    fn organizations(&self) -> bool {
        false
    }
}

/// Facts of no user.
pub struct NoUser;

impl Facts for NoUser {
    fn has_credential(&self, _: &str) -> bool {
        false
    }
    fn has_role(&self, _: &str) -> bool {
        false
    }
}

/// Keycloak's `Constants.NO_LOA`: no level reached.
pub const NO_LOA: i64 = -1;
/// Keycloak's `ConditionalLoaAuthenticator.DEFAULT_MAX_AGE` (10 hours, in seconds).
pub const LOA_DEFAULT_MAX_AGE: i64 = 36_000;

/// `LoAUtil.getLevelFromLoaConditionConfiguration`: the condition's `loa-condition-level`.
pub fn loa_level(a: &Authenticator) -> Option<i64> {
    a.setting("loa-condition-level")?.trim().parse().ok()
}

/// `LoAUtil.getMaxAgeFromLoaConditionConfiguration`: the condition's `loa-max-age` (seconds).
pub fn loa_max_age(a: &Authenticator) -> i64 {
    a.setting("loa-max-age")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(LOA_DEFAULT_MAX_AGE)
}

/// The `loa-max-age` of each level configured in a flow and its sub-flows
/// (`LoAUtil.getLoaMaxAgesConfiguredInRealmFlow`).
pub fn loa_max_ages(flows: &Flows, top: usize) -> BTreeMap<i64, i64> {
    let mut out = BTreeMap::new();
    let mut stack = vec![top];
    let mut seen = Vec::new();
    while let Some(i) = stack.pop() {
        if seen.contains(&i) {
            continue;
        }
        seen.push(i);
        for e in &flows.flows[i].executions {
            if e.requirement == Requirement::Disabled {
                continue;
            }
            match &e.step {
                Step::Flow(sub) => stack.push(*sub),
                Step::Authenticator(a) if a.provider == Provider::CondLoa => {
                    if let Some(level) = loa_level(a) {
                        out.insert(level, loa_max_age(a));
                    }
                }
                Step::Authenticator(_) => {}
            }
        }
    }
    out
}

/// `AcrStore.getHighestAuthenticatedLevelFromPreviousAuthentication`: of the session's
/// `loa-map`, the highest level still within its `loa-max-age`, counting up from the lowest
/// (a lapsed level ends the count); [`NO_LOA`] without a map, else at least `0` (SSO).
pub fn previous_level(map: &BTreeMap<i64, i64>, max_ages: &BTreeMap<i64, i64>, now: i64) -> i64 {
    if map.is_empty() {
        return NO_LOA;
    }
    let mut level = 0;
    for (l, at) in map {
        // A level no condition of the flow configures lapses at once (Keycloak warns).
        let max_age = max_ages.get(l).copied().unwrap_or(0);
        if now <= at + max_age {
            level = *l;
        } else {
            break;
        }
    }
    level
}

/// `LoAUtil.getCredentialTypesToLoAMap`: the credential type of each authenticator in a level
/// sub-flow of flow `top` (and its sub-flows) -> that level.
pub fn credential_levels(flows: &Flows, top: usize) -> BTreeMap<String, i64> {
    fn walk(
        flows: &Flows,
        i: usize,
        level: Option<i64>,
        out: &mut BTreeMap<String, i64>,
        depth: usize,
    ) {
        if depth > 32 {
            return;
        }
        let execs = &flows.flows[i].executions;
        let enabled = || {
            execs
                .iter()
                .filter(|e| e.requirement != Requirement::Disabled)
        };
        let own = enabled()
            .filter_map(condition)
            .find(|c| c.provider == Provider::CondLoa)
            .and_then(loa_level)
            .or(level);
        for e in enabled() {
            match &e.step {
                Step::Flow(sub) => walk(flows, *sub, own, out, depth + 1),
                Step::Authenticator(a) => {
                    if let (Some(l), Some(t)) = (own, a.provider.credential_type()) {
                        out.insert(t.to_string(), l);
                    }
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(flows, top, None, &mut out, 0);
    out
}

/// `AcrStore.getRequestedLevelOfAuthenticationByKcAction`: the level of the action's
/// credential type in the flow, lowered while the (identified) user has no credential of
/// the level (`getHighestLevelAvailableForUser`); [`NO_LOA`] without a user, an action
/// credential, or a level for it.
pub fn kc_action_level(
    flows: &Flows,
    top: usize,
    credential_type: Option<&str>,
    user_known: bool,
    facts: &dyn Facts,
) -> i64 {
    let Some(t) = credential_type.filter(|_| user_known) else {
        return NO_LOA;
    };
    let map = credential_levels(flows, top);
    let Some(mut level) = map.get(t).copied() else {
        return NO_LOA;
    };
    while level > NO_LOA {
        let types: Vec<&String> = map
            .iter()
            .filter(|(_, l)| **l == level)
            .map(|(t, _)| t)
            .collect();
        if types.is_empty() || types.iter().any(|t| facts.has_credential(t)) {
            return level;
        }
        level -= 1;
    }
    level
}

/// Why a flow failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// An authenticator needs a user and none is identified (`UNKNOWN_USER`).
    UnknownUser(Provider),
    /// A required authenticator the user has no credential for (`CREDENTIAL_SETUP_REQUIRED`).
    CredentialSetupRequired(Provider),
    /// The flow's executions did not succeed (no alternative did).
    NotSucceeded,
    /// An essential `acr` asked for a level the flow did not reach (Keycloak's
    /// `acrNotFulfilled`).
    AcrNotFulfilled {
        /// The level asked for.
        requested: i64,
        /// The level reached.
        reached: i64,
    },
}

/// The planner's answer.
#[derive(Debug, PartialEq)]
pub enum Next<'a> {
    /// Run this authenticator (its execution).
    Run(&'a Execution, &'a Authenticator),
    /// The flow succeeded.
    Done,
    /// The flow failed.
    Failed(Failure),
}

enum Eval<'a> {
    Run(&'a Execution, &'a Authenticator),
    Success,
    NotSuccess,
    Error(Failure),
}

struct Planner<'a, 'f> {
    flows: &'a Flows,
    top: usize,
    state: &'f FlowState,
    facts: &'f dyn Facts,
    now: i64,
    /// The level reached so far in this evaluation (auth note `LEVEL_OF_AUTHENTICATION`).
    loa: Cell<i64>,
    /// Level sub-flows that succeeded: (level, `loa-max-age`).
    reached: RefCell<Vec<(i64, i64)>>,
}

/// The planner's answer with what the level conditions found.
#[derive(Debug, PartialEq)]
pub struct Planned<'a> {
    /// The next step.
    pub next: Next<'a>,
    /// The level of authentication reached so far ([`NO_LOA`] for none).
    pub loa: i64,
    /// The level sub-flows that succeeded, with their `loa-max-age`
    /// (`ConditionalLoaAuthenticator.onParentFlowSuccess`): the driver records each in the
    /// `loa-map` unless its max age is `0`.
    pub reached: Vec<(i64, i64)>,
}

/// The next step of flow `top` (an index into `flows.flows`).
pub fn plan<'a>(flows: &'a Flows, top: usize, state: &FlowState, facts: &dyn Facts) -> Next<'a> {
    plan_at(flows, top, state, facts, crate::clock::now()).next
}

/// [`plan`] at `now`, with the levels of authentication. At the end of a successful flow
/// an essential level that was not reached fails it
/// (`ConditionalLoaAuthenticator.onTopFlowSuccess`).
pub fn plan_at<'a>(
    flows: &'a Flows,
    top: usize,
    state: &FlowState,
    facts: &dyn Facts,
    now: i64,
) -> Planned<'a> {
    let p = Planner {
        flows,
        top,
        state,
        facts,
        now,
        loa: Cell::new(state.loa.unwrap_or(NO_LOA)),
        reached: RefCell::new(Vec::new()),
    };
    let next = match p.flow(top) {
        Eval::Run(e, a) => Next::Run(e, a),
        Eval::Success => {
            let requested = p.requested();
            let reached = p.loa.get();
            if state.force_loa && requested > reached {
                Next::Failed(Failure::AcrNotFulfilled { requested, reached })
            } else {
                Next::Done
            }
        }
        Eval::NotSuccess => Next::Failed(Failure::NotSucceeded),
        Eval::Error(f) => Next::Failed(f),
    };
    Planned {
        next,
        loa: p.loa.get(),
        reached: p.reached.into_inner(),
    }
}

fn condition(e: &Execution) -> Option<&Authenticator> {
    match &e.step {
        Step::Authenticator(a) if a.provider.is_condition() => Some(a),
        _ => None,
    }
}

impl<'a> Planner<'a, '_> {
    fn flow(&self, i: usize) -> Eval<'a> {
        let execs = &self.flows.flows[i].executions;
        let enabled = || {
            execs
                .iter()
                .filter(|e| e.requirement != Requirement::Disabled && condition(e).is_none())
        };
        let required: Vec<&Execution> = enabled()
            .filter(|e| {
                matches!(
                    e.requirement,
                    Requirement::Required | Requirement::Conditional
                )
            })
            .collect();
        if !required.is_empty() {
            let mut ran = false;
            for e in required {
                if e.requirement == Requirement::Conditional {
                    if let Step::Flow(sub) = e.step {
                        if !self.conditions_hold(sub) {
                            continue;
                        }
                    }
                }
                ran = true;
                match self.execution(e, true) {
                    Eval::Success => {}
                    other => return other,
                }
            }
            if ran {
                return Eval::Success;
            }
        }
        let alternatives = || enabled().filter(|e| e.requirement == Requirement::Alternative);
        // Back after an action: an alternative that already succeeded settles the flow. The
        // look-ahead does not count as a level reached.
        let (loa, reached) = (self.loa.get(), self.reached.borrow().len());
        if alternatives().any(|e| matches!(self.execution(e, false), Eval::Success)) {
            return Eval::Success;
        }
        self.loa.set(loa);
        self.reached.borrow_mut().truncate(reached);
        for e in alternatives() {
            match self.execution(e, false) {
                Eval::NotSuccess | Eval::Error(_) => {}
                other => return other,
            }
        }
        Eval::NotSuccess
    }

    fn execution(&self, e: &'a Execution, required: bool) -> Eval<'a> {
        let a = match &e.step {
            Step::Flow(sub) => {
                let r = self.flow(*sub);
                if matches!(r, Eval::Success) {
                    self.on_flow_success(*sub);
                }
                return r;
            }
            Step::Authenticator(a) => a,
        };
        match self.state.status.get(&e.id) {
            Some(Status::Success | Status::SetupRequired) => return Eval::Success,
            Some(Status::Attempted) => return Eval::NotSuccess,
            None => {}
        }
        // A passkey step needs no user, but once one is known it is `configuredFor` that user.
        let known_user_step = a.provider.configured_when_user_known() && self.state.user.is_some();
        if a.provider.requires_user() || known_user_step {
            if self.state.user.is_none() {
                return Eval::Error(Failure::UnknownUser(a.provider));
            }
            if !self.configured(a) {
                // Keycloak's `DefaultAuthenticationFlow`: a required authenticator whose
                // factory allows user setup runs and sets its required action.
                if required && a.provider.user_setup_allowed() {
                    return Eval::Run(e, a);
                }
                return if required {
                    Eval::Error(Failure::CredentialSetupRequired(a.provider))
                } else {
                    Eval::NotSuccess
                };
            }
        }
        Eval::Run(e, a)
    }

    /// `configuredFor`: the user has the authenticator's credential.
    fn configured(&self, a: &Authenticator) -> bool {
        if a.provider == Provider::Organization {
            return self.facts.organizations();
        }
        match a.provider.credential_type() {
            Some(t) => self.state.user.is_some() && self.facts.has_credential(t),
            None => true,
        }
    }

    /// `isConditionalSubflowDisabled`, negated: the sub-flow has enabled conditions and all
    /// hold.
    fn conditions_hold(&self, sub: usize) -> bool {
        let conds: Vec<&Authenticator> = self.flows.flows[sub]
            .executions
            .iter()
            .filter(|e| e.requirement != Requirement::Disabled)
            .filter_map(condition)
            .collect();
        !conds.is_empty() && conds.into_iter().all(|c| self.condition(c, sub))
    }

    /// `AcrStore.getRequestedLevelOfAuthentication`: the client's level, or the level of the
    /// `kc_action`'s credential when higher.
    fn requested(&self) -> i64 {
        let kc = kc_action_level(
            self.flows,
            self.top,
            self.state.kc_credential.as_deref(),
            self.state.user.is_some(),
            self.facts,
        );
        self.state.requested_loa.unwrap_or(NO_LOA).max(kc)
    }

    /// `ConditionalLoaAuthenticator.onParentFlowSuccess`: a sub-flow with a level condition
    /// succeeded, so its level is reached.
    fn on_flow_success(&self, sub: usize) {
        let conds = self.flows.flows[sub]
            .executions
            .iter()
            .filter(|e| e.requirement != Requirement::Disabled)
            .filter_map(condition)
            .filter(|c| c.provider == Provider::CondLoa);
        for c in conds {
            if let Some(level) = loa_level(c) {
                self.loa.set(level);
                self.reached.borrow_mut().push((level, loa_max_age(c)));
            }
        }
    }

    /// `ConditionalLoaAuthenticator.matchCondition`: before any level is reached the
    /// sub-flow runs; after, it runs when its level is requested and was not authenticated in
    /// the session within its `loa-max-age` (a level that was counts as reached now).
    fn loa_condition(&self, c: &Authenticator) -> bool {
        let current = self.loa.get();
        let configured = loa_level(c).unwrap_or(0);
        if current < 0 {
            return true;
        }
        let requested = self.requested();
        if requested < configured {
            return false;
        }
        // `AcrStore.isLevelAuthenticatedInPreviousAuth`: never on a forced re-authentication.
        let previously = !self.state.reauth
            && self
                .state
                .loa_map
                .get(&configured)
                .is_some_and(|at| at + loa_max_age(c) >= self.now);
        if previously && current < configured {
            self.loa.set(configured);
        }
        !previously
    }

    fn condition(&self, c: &Authenticator, flow: usize) -> bool {
        if c.provider == Provider::CondLoa {
            return self.loa_condition(c);
        }
        // `conditional-user-configured` asks each step's `configuredFor`, which for a step
        // that needs no credential holds without a user (the organization sub-flow runs
        // before anyone is identified).
        if c.provider == Provider::CondUserConfigured {
            return self.user_configured(flow);
        }
        if self.state.user.is_none() {
            return false;
        }
        let setting = |k: &str| c.setting(k).unwrap_or_default();
        match c.provider {
            Provider::CondUserRole => {
                let role = setting("condUserRole");
                let has = !role.is_empty() && self.facts.has_role(role);
                has != (setting("negate") == "true")
            }
            Provider::CondCredential => {
                let listed: Vec<&str> = setting("credentials")
                    .split("##")
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect();
                let used: Vec<&str> = if self.state.credentials.is_empty() {
                    vec!["none"]
                } else {
                    self.state.credentials.iter().map(String::as_str).collect()
                };
                let any = listed.iter().any(|l| used.contains(l));
                if setting("included") == "true" {
                    any
                } else {
                    !any
                }
            }
            _ => false,
        }
    }

    /// `ConditionalUserConfiguredAuthenticator.matchConditionInFlow`: the required executions
    /// of the flow are all configured for the user, or (with none) one of the alternatives.
    fn user_configured(&self, flow: usize) -> bool {
        let execs = &self.flows.flows[flow].executions;
        let of = |r: Requirement| {
            execs
                .iter()
                .filter(move |e| e.requirement == r && condition(e).is_none())
        };
        let ok = |e: &Execution| match &e.step {
            Step::Flow(sub) => self.user_configured(*sub),
            Step::Authenticator(a) => self.configured(a),
        };
        let mut required = of(Requirement::Required).peekable();
        if required.peek().is_some() {
            return required.all(ok);
        }
        let mut alternatives = of(Requirement::Alternative).peekable();
        if alternatives.peek().is_some() {
            return alternatives.any(ok);
        }
        true
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::model::flows::compile;
    use crate::representation::RealmRepresentation;
    use serde_json::{json, Value};

    struct User {
        creds: Vec<&'static str>,
        roles: Vec<&'static str>,
    }

    impl Facts for User {
        fn has_credential(&self, t: &str) -> bool {
            self.creds.contains(&t)
        }
        fn has_role(&self, r: &str) -> bool {
            self.roles.contains(&r)
        }
    }

    fn defaults() -> Flows {
        let mut v: Value =
            serde_json::from_str(include_str!("../realm/defaults/new-realm.json")).unwrap();
        v["realm"] = json!("r");
        let rep: RealmRepresentation = serde_json::from_value(v).unwrap();
        compile(&rep).unwrap()
    }

    fn provider(n: &Next<'_>) -> Option<Provider> {
        match n {
            Next::Run(_, a) => Some(a.provider),
            _ => None,
        }
    }

    /// Runs the flow with every step answering `outcome(provider)` until it ends or a step
    /// challenges (`None`); returns the providers run and the end.
    fn drive(
        flows: &Flows,
        top: usize,
        st: &mut FlowState,
        facts: &dyn Facts,
        outcome: impl Fn(Provider) -> Option<Status>,
    ) -> (Vec<Provider>, String) {
        let mut ran = Vec::new();
        loop {
            match plan(flows, top, st, facts) {
                Next::Run(e, a) => {
                    ran.push(a.provider);
                    match outcome(a.provider) {
                        Some(s) => {
                            if s == Status::Success && a.provider == Provider::UsernamePasswordForm
                            {
                                st.user = Some("u".into());
                                st.used("password");
                            }
                            st.record(&e.id, s)
                        }
                        None => return (ran, "challenge".into()),
                    }
                }
                Next::Done => return (ran, "done".into()),
                Next::Failed(f) => return (ran, format!("{f:?}")),
            }
        }
    }

    #[test]
    fn default_browser_flow_without_otp() {
        let f = defaults();
        let mut st = FlowState::default();
        let user = User {
            creds: vec!["password"],
            roles: vec![],
        };
        let (ran, end) = drive(&f, f.browser.unwrap(), &mut st, &user, |p| match p {
            Provider::Cookie | Provider::IdpRedirector => Some(Status::Attempted),
            Provider::UsernamePasswordForm => None,
            _ => panic!("{p:?}"),
        });
        assert_eq!(
            ran,
            vec![
                Provider::Cookie,
                Provider::IdpRedirector,
                Provider::UsernamePasswordForm
            ]
        );
        assert_eq!(end, "challenge");
        let (ran, end) = drive(&f, f.browser.unwrap(), &mut st, &user, |p| match p {
            Provider::UsernamePasswordForm => Some(Status::Success),
            _ => panic!("{p:?}"),
        });
        assert_eq!(ran, vec![Provider::UsernamePasswordForm]);
        assert_eq!(end, "done");
    }

    #[test]
    fn default_browser_flow_asks_for_otp_when_configured() {
        let f = defaults();
        let mut st = FlowState::default();
        let user = User {
            creds: vec!["password", "otp"],
            roles: vec![],
        };
        let (ran, end) = drive(&f, f.browser.unwrap(), &mut st, &user, |p| match p {
            Provider::Cookie | Provider::IdpRedirector | Provider::Organization => {
                Some(Status::Attempted)
            }
            Provider::UsernamePasswordForm => Some(Status::Success),
            Provider::OtpForm => None,
            _ => panic!("{p:?}"),
        });
        assert_eq!(ran.last(), Some(&Provider::OtpForm));
        assert_eq!(end, "challenge");
        let next = plan(&f, f.browser.unwrap(), &st, &user);
        assert_eq!(
            provider(&next),
            Some(Provider::OtpForm),
            "resumes at the OTP"
        );
    }

    #[test]
    fn cookie_success_ends_the_browser_flow() {
        let f = defaults();
        let mut st = FlowState::default();
        let (ran, end) = drive(&f, f.browser.unwrap(), &mut st, &NoUser, |_| {
            Some(Status::Success)
        });
        assert_eq!((ran, end.as_str()), (vec![Provider::Cookie], "done"));
    }

    #[test]
    fn direct_grant_runs_otp_only_for_users_with_otp() {
        let f = defaults();
        let top = f.direct_grant.unwrap();
        let ok = |_| Some(Status::Success);
        let mut st = FlowState {
            user: Some("u".into()),
            ..Default::default()
        };
        let plain = User {
            creds: vec!["password"],
            roles: vec![],
        };
        let (ran, end) = drive(&f, top, &mut st, &plain, ok);
        assert_eq!(
            (ran, end.as_str()),
            (
                vec![Provider::DirectUsername, Provider::DirectPassword],
                "done"
            )
        );
        let mut st = FlowState {
            user: Some("u".into()),
            ..Default::default()
        };
        let otp = User {
            creds: vec!["password", "otp"],
            roles: vec![],
        };
        let (ran, _) = drive(&f, top, &mut st, &otp, ok);
        assert_eq!(ran.last(), Some(&Provider::DirectOtp));
    }

    fn custom(execs: Value, sub: Value) -> Flows {
        let rep: RealmRepresentation = serde_json::from_value(json!({
            "realm": "r", "browserFlow": "top",
            "authenticationFlows": [
                { "alias": "top", "authenticationExecutions": execs },
                { "alias": "sub", "authenticationExecutions": sub }
            ],
            "authenticatorConfig": [ { "alias": "admins", "config": { "condUserRole": "admin" } } ]
        }))
        .unwrap();
        compile(&rep).unwrap()
    }

    #[test]
    fn conditional_user_role_gates_a_sub_flow() {
        let f = custom(
            json!([
                { "authenticator": "auth-username-password-form", "requirement": "REQUIRED", "priority": 1 },
                { "authenticatorFlow": true, "flowAlias": "sub", "requirement": "CONDITIONAL", "priority": 2 },
                { "authenticator": "allow-access-authenticator", "requirement": "REQUIRED", "priority": 3 }
            ]),
            json!([
                { "authenticator": "conditional-user-role", "authenticatorConfig": "admins", "requirement": "REQUIRED", "priority": 1 },
                { "authenticator": "deny-access-authenticator", "requirement": "REQUIRED", "priority": 2 }
            ]),
        );
        let all = |_| Some(Status::Success);
        let admin = User {
            creds: vec!["password"],
            roles: vec!["admin"],
        };
        let (ran, _) = drive(&f, 0, &mut FlowState::default(), &admin, all);
        assert_eq!(
            ran,
            vec![
                Provider::UsernamePasswordForm,
                Provider::DenyAccess,
                Provider::AllowAccess
            ]
        );
        let other = User {
            creds: vec!["password"],
            roles: vec![],
        };
        let (ran, _) = drive(&f, 0, &mut FlowState::default(), &other, all);
        assert_eq!(
            ran,
            vec![Provider::UsernamePasswordForm, Provider::AllowAccess]
        );
    }

    #[test]
    fn required_hides_alternatives_and_a_conditional_flow_without_conditions_is_skipped() {
        let f = custom(
            json!([
                { "authenticator": "auth-cookie", "requirement": "ALTERNATIVE", "priority": 1 },
                { "authenticator": "auth-username-form", "requirement": "REQUIRED", "priority": 2 },
                { "authenticatorFlow": true, "flowAlias": "sub", "requirement": "CONDITIONAL", "priority": 3 },
                { "authenticator": "auth-password-form", "requirement": "DISABLED", "priority": 4 }
            ]),
            json!([ { "authenticator": "deny-access-authenticator", "requirement": "REQUIRED" } ]),
        );
        let (ran, end) = drive(&f, 0, &mut FlowState::default(), &NoUser, |_| {
            Some(Status::Success)
        });
        assert_eq!((ran, end.as_str()), (vec![Provider::UsernameForm], "done"));
    }

    #[test]
    fn a_step_needing_a_user_fails_without_one_and_required_unconfigured_fails() {
        let f = custom(
            json!([ { "authenticator": "direct-grant-validate-otp", "requirement": "REQUIRED" } ]),
            json!([]),
        );
        assert_eq!(
            plan(&f, 0, &FlowState::default(), &NoUser),
            Next::Failed(Failure::UnknownUser(Provider::DirectOtp))
        );
        let st = FlowState {
            user: Some("u".into()),
            ..Default::default()
        };
        assert_eq!(
            plan(&f, 0, &st, &NoUser),
            Next::Failed(Failure::CredentialSetupRequired(Provider::DirectOtp))
        );
        // The OTP form allows user setup: it runs, records SETUP_REQUIRED, the flow succeeds.
        let f = custom(
            json!([ { "authenticator": "auth-otp-form", "requirement": "REQUIRED" } ]),
            json!([]),
        );
        let mut st = st;
        let Next::Run(e, a) = plan(&f, 0, &st, &NoUser) else {
            panic!("the OTP form runs");
        };
        assert_eq!(a.provider, Provider::OtpForm);
        st.record(&e.id.clone(), Status::SetupRequired);
        assert_eq!(plan(&f, 0, &st, &NoUser), Next::Done);
    }

    #[test]
    fn attempted_alternatives_move_on_and_none_left_fails() {
        let f = custom(
            json!([
                { "authenticator": "auth-cookie", "requirement": "ALTERNATIVE", "priority": 1 },
                { "authenticator": "identity-provider-redirector", "requirement": "ALTERNATIVE", "priority": 2 }
            ]),
            json!([]),
        );
        let (ran, end) = drive(&f, 0, &mut FlowState::default(), &NoUser, |_| {
            Some(Status::Attempted)
        });
        assert_eq!(ran.len(), 2);
        assert_eq!(end, "NotSucceeded");
    }

    fn step_up() -> Flows {
        let cond = |cfg: &str| json!({ "authenticator": "conditional-level-of-authentication", "authenticatorConfig": cfg, "requirement": "REQUIRED", "priority": 1 });
        let rep: RealmRepresentation = serde_json::from_value(json!({
            "realm": "r", "browserFlow": "top",
            "authenticationFlows": [
                { "alias": "top", "authenticationExecutions": [
                    { "authenticator": "auth-cookie", "requirement": "ALTERNATIVE", "priority": 1 },
                    { "authenticatorFlow": true, "flowAlias": "forms", "requirement": "ALTERNATIVE", "priority": 2 }
                ]},
                { "alias": "forms", "authenticationExecutions": [
                    { "authenticatorFlow": true, "flowAlias": "l1", "requirement": "CONDITIONAL", "priority": 1 },
                    { "authenticatorFlow": true, "flowAlias": "l2", "requirement": "CONDITIONAL", "priority": 2 }
                ]},
                { "alias": "l1", "authenticationExecutions": [
                    cond("one"),
                    { "authenticator": "auth-username-password-form", "requirement": "REQUIRED", "priority": 2 }
                ]},
                { "alias": "l2", "authenticationExecutions": [
                    cond("two"),
                    { "authenticator": "auth-otp-form", "requirement": "REQUIRED", "priority": 2 }
                ]}
            ],
            "authenticatorConfig": [
                { "alias": "one", "config": { "loa-condition-level": "1", "loa-max-age": "36000" } },
                { "alias": "two", "config": { "loa-condition-level": "2", "loa-max-age": "0" } }
            ]
        }))
        .unwrap();
        compile(&rep).unwrap()
    }

    /// Runs the step-up flow at `now` with the cookie attempted and every other step
    /// succeeding: the providers run, the level reached and the end.
    fn step_up_run(st: &mut FlowState, now: i64) -> (Vec<Provider>, i64, String) {
        let f = step_up();
        let user = User {
            creds: vec!["password", "otp"],
            roles: vec![],
        };
        let mut ran = Vec::new();
        loop {
            let p = plan_at(&f, 0, st, &user, now);
            for (level, max_age) in &p.reached {
                if *max_age != 0 {
                    st.loa_map.insert(*level, now);
                }
            }
            match p.next {
                Next::Run(e, a) => {
                    ran.push(a.provider);
                    if a.provider == Provider::Cookie {
                        st.record(&e.id, Status::Attempted);
                        continue;
                    }
                    if a.provider == Provider::UsernamePasswordForm {
                        st.user = Some("u".into());
                    }
                    st.record(&e.id, Status::Success);
                }
                Next::Done => return (ran, p.loa, "done".into()),
                Next::Failed(f) => return (ran, p.loa, format!("{f:?}")),
            }
        }
    }

    #[test]
    fn level_conditions_run_the_levels_asked_for_and_not_yet_reached() {
        use Provider::{Cookie, OtpForm, UsernamePasswordForm};
        // Nothing asked: the first level only.
        let mut st = FlowState::default();
        let (ran, loa, end) = step_up_run(&mut st, 1000);
        assert_eq!(
            (ran, loa, end.as_str()),
            (vec![Cookie, UsernamePasswordForm], 1, "done")
        );
        assert_eq!(st.loa_map, BTreeMap::from([(1, 1000)]));
        // Level 2 asked: both; level 2's max age is 0, so the session does not keep it.
        let mut st = FlowState {
            requested_loa: Some(2),
            ..Default::default()
        };
        let (ran, loa, _) = step_up_run(&mut st, 1000);
        assert_eq!((ran, loa), (vec![Cookie, UsernamePasswordForm, OtpForm], 2));
        assert_eq!(st.loa_map, BTreeMap::from([(1, 1000)]));
        // The session has level 1 (the cookie step set it): only the OTP.
        let mut st = FlowState {
            requested_loa: Some(2),
            user: Some("u".into()),
            loa: Some(1),
            loa_map: BTreeMap::from([(1, 900)]),
            ..Default::default()
        };
        let (ran, loa, _) = step_up_run(&mut st, 1000);
        assert_eq!((ran, loa), (vec![Cookie, OtpForm], 2));
        // ... unless the login is a forced re-authentication.
        let mut st = FlowState {
            requested_loa: Some(2),
            user: Some("u".into()),
            loa_map: BTreeMap::from([(1, 900)]),
            reauth: true,
            ..Default::default()
        };
        let (ran, _, _) = step_up_run(&mut st, 1000);
        assert_eq!(ran, vec![Cookie, UsernamePasswordForm, OtpForm]);
        // An essential level above the flow's highest fails at the end; a plain one does not.
        let mut st = FlowState {
            requested_loa: Some(3),
            force_loa: true,
            ..Default::default()
        };
        let (_, _, end) = step_up_run(&mut st, 1000);
        assert_eq!(end, "AcrNotFulfilled { requested: 3, reached: 2 }");
        let mut st = FlowState {
            requested_loa: Some(3),
            ..Default::default()
        };
        assert_eq!(step_up_run(&mut st, 1000).2, "done");
    }

    #[test]
    fn a_kc_action_asks_for_the_level_of_its_credential_when_the_user_has_one() {
        let f = step_up();
        // The username-password form is no `CredentialValidator` in Keycloak: only the OTP.
        assert_eq!(
            credential_levels(&f, 0),
            BTreeMap::from([("otp".to_string(), 2)])
        );
        let with_otp = User {
            creds: vec!["password", "otp"],
            roles: vec![],
        };
        let without = User {
            creds: vec!["password"],
            roles: vec![],
        };
        assert_eq!(kc_action_level(&f, 0, Some("otp"), true, &with_otp), 2);
        assert_eq!(kc_action_level(&f, 0, Some("otp"), true, &without), 1);
        assert_eq!(
            kc_action_level(&f, 0, Some("otp"), false, &with_otp),
            NO_LOA
        );
        assert_eq!(kc_action_level(&f, 0, None, true, &with_otp), NO_LOA);
        // In the planner: the session has level 1, CONFIGURE_TOTP asks for the OTP.
        let mut st = FlowState {
            user: Some("u".into()),
            loa: Some(1),
            loa_map: BTreeMap::from([(1, 900)]),
            kc_credential: Some("otp".into()),
            ..Default::default()
        };
        let (ran, loa, _) = step_up_run(&mut st, 1000);
        assert_eq!((ran, loa), (vec![Provider::Cookie, Provider::OtpForm], 2));
    }

    #[test]
    fn previous_level_counts_up_while_levels_are_within_their_max_age() {
        let ages = BTreeMap::from([(1, 100), (2, 10), (3, 100)]);
        assert_eq!(previous_level(&BTreeMap::new(), &ages, 50), NO_LOA);
        let map = BTreeMap::from([(1, 0), (2, 0), (3, 0)]);
        assert_eq!(previous_level(&map, &ages, 5), 3);
        assert_eq!(
            previous_level(&map, &ages, 50),
            1,
            "level 2 lapsed ends the count"
        );
        assert_eq!(previous_level(&map, &ages, 500), 0, "a map: at least SSO");
        assert_eq!(
            loa_max_ages(&step_up(), 0),
            BTreeMap::from([(1, 36000), (2, 0)])
        );
    }
}

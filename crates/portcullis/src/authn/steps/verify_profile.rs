//! The `VERIFY_PROFILE` required action (Keycloak 24+'s `VerifyUserProfile`, which extends
//! `UpdateProfile`): when the realm has it enabled, every login that authenticated a user
//! validates the user against the realm's user profile in the user's context
//! (`UserProfileContext.UPDATE_PROFILE`). An invalid profile makes the action due for this login
//! (`evaluateTriggers` adds it to the authentication session, not to the user); a valid one
//! removes it from the user. Its page is the update-profile form with the fields that fail and
//! their messages (event `VERIFY_PROFILE`, detail `fields_to_update`); its post is
//! `UPDATE_PROFILE`'s. It cannot be application-initiated (`InitiatedActionSupport
//! .NOT_SUPPORTED`).
//!
//! With Keycloak's default user profile (e-mail, first and last name required for the user),
//! a user without them is asked for them at the next browser login, and the password grant
//! answers `Account is not fully set up` until then.

use crate::authn::PendingLogin;
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::UserRepresentation;
use crate::users::profile::{config_for, validate_user, Context, FieldError, UpConfig};

use super::profile_actions::profile_page_with_errors;
use super::required_action::{is_enabled, Actions};

/// The action's alias.
pub const ALIAS: &str = "VERIFY_PROFILE";

/// The errors of the stored user against the realm's user profile, in the user's context in
/// a login that asked for `scopes` (`UserProfileProvider.create(UPDATE_PROFILE, user)
/// .validate()`).
pub fn profile_errors(
    snap: &RealmSnapshot,
    user: &UserRepresentation,
    scopes: &[String],
) -> Vec<FieldError> {
    errors_in(&config_for(snap), user, scopes)
}

fn errors_in(config: &UpConfig, user: &UserRepresentation, scopes: &[String]) -> Vec<FieldError> {
    let mut copy = user.clone();
    validate_user(config, Context::Login(scopes), &mut copy, Some(user))
}

/// What `evaluateTriggers` decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// Not enabled in the realm, or nothing to change.
    Nothing,
    /// Due for this login: the profile does not validate.
    Due,
    /// The profile validates and the user had the action stored: it was removed from `user`,
    /// which the caller stores.
    Cleared,
}

/// `VerifyUserProfile.evaluateTriggers` outside a browser login (the password grant): due
/// while the profile fails; a valid profile takes a stored `VERIFY_PROFILE` off the user.
pub fn evaluate(snap: &RealmSnapshot, user: &mut UserRepresentation, scopes: &[String]) -> Trigger {
    if !is_enabled(snap, ALIAS) {
        return Trigger::Nothing;
    }
    if !profile_errors(snap, user, scopes).is_empty() {
        return Trigger::Due;
    }
    match user.required_actions.as_mut() {
        Some(list) if list.iter().any(|x| x == ALIAS) => {
            list.retain(|x| x != ALIAS);
            Trigger::Cleared
        }
        _ => Trigger::Nothing,
    }
}

/// `fields_to_update`: the failing fields, each once, comma-joined in the order of the errors.
pub fn fields_to_update(errors: &[FieldError]) -> String {
    let mut fields: Vec<&str> = Vec::new();
    for e in errors {
        if !fields.contains(&e.field.as_str()) {
            fields.push(&e.field);
        }
    }
    fields.join(",")
}

/// `requiredActionChallenge` for a profile that fails: the form with the user's values and the
/// errors (in the login's scopes), and the event `VERIFY_PROFILE` (the login's event, detail
/// `fields_to_update`).
pub fn page(
    a: &Actions<'_>,
    action: &str,
    code: &str,
    pending: &PendingLogin,
    user_id: &str,
    user: &UserRepresentation,
) -> String {
    let scopes = pending.request.scope_names(a.snap);
    let errors = profile_errors(a.snap, user, &scopes);
    let mut e = crate::authn::login_event(a.snap, &pending.request).user(user_id.to_string());
    e.set_kind(a.snap, "VERIFY_PROFILE");
    if let Some(u) = &user.username {
        e.set_detail("username", u.clone());
    }
    e.set_detail("fields_to_update", fields_to_update(&errors));
    e.success(a.state);
    let email_locked = super::update_email::enabled(a.state, a.snap);
    profile_page_with_errors(a.snap, action, code, user, &errors, &scopes, email_locked)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::representation::RealmRepresentation;
    use crate::users::profile::config_of;
    use serde_json::json;

    fn user(v: serde_json::Value) -> UserRepresentation {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn keycloaks_default_profile_asks_the_user_for_email_and_names() {
        let rep: RealmRepresentation = serde_json::from_value(json!({"realm": "r"})).unwrap();
        let rep = config_of(&rep);
        let errors = errors_in(&rep, &user(json!({"username": "bob"})), &[]);
        assert_eq!(fields_to_update(&errors), "email,firstName,lastName");
        let errors = errors_in(
            &rep,
            &user(json!({"username": "bob", "lastName": "B"})),
            &[],
        );
        assert_eq!(fields_to_update(&errors), "email,firstName");
        let full = user(json!({"username": "bob", "email": "bob@example.com",
                               "firstName": "Bob", "lastName": "B"}));
        assert!(errors_in(&rep, &full, &[]).is_empty());
    }

    #[test]
    fn each_failing_field_is_named_once() {
        let e = |f: &str| FieldError {
            field: f.into(),
            message: "m".into(),
            params: vec![],
        };
        assert_eq!(fields_to_update(&[e("a"), e("b"), e("a")]), "a,b");
        assert_eq!(fields_to_update(&[]), "");
    }
}

//! WebAuthn in the browser login (Keycloak's `WebAuthnAuthenticator`,
//! `WebAuthnPasswordlessAuthenticator`, `WebAuthnRegister`, `webauthn-authenticate.ftl`,
//! `webauthn-register.ftl`):
//! - the authenticators `webauthn-authenticator` (second factor, after the user is known) and
//!   `webauthn-authenticator-passwordless` (passkey; the user may be unknown and is then the
//!   one the credential's `userHandle` names);
//! - the required actions `webauthn-register` and `webauthn-register-passwordless`.
//!
//! Each page carries the options of `navigator.credentials.get`/`create` and a script that
//! calls it and posts Keycloak's form fields; the challenge stays in the pending login (auth
//! note `WEBAUTH_CHALLENGE`), used once. The protocol checks are in [`crate::users::webauthn`].

use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::authn::brute_force;
use crate::authn::pages::{escape, internal_error, page as html_page, realm_title};
use crate::authn::PendingLogin;
use crate::clock::now;
use crate::events::errors;
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::{CredentialRepresentation, UserRepresentation};
use crate::store::UserRow;
use crate::users::parse_user;
use crate::users::webauthn::{
    self as wa, Assertion, CredentialData, Policy, Refusal, Registration,
};
use crate::AppState;

use super::required_action::{save, Actions, Fields, Posted};

/// The required action of a credential type.
pub fn register_action(passwordless: bool) -> &'static str {
    if passwordless {
        "webauthn-register-passwordless"
    } else {
        "webauthn-register"
    }
}

/// The script's helpers: Base64url to bytes and back.
const JS_HELPERS: &str = "var kcB=function(s){s=s.replace(/-/g,'+').replace(/_/g,'/');while(s.length%4)s+='=';return Uint8Array.from(atob(s),function(c){return c.charCodeAt(0)})};\
var kcE=function(b){var u=new Uint8Array(b),s='';for(var i=0;i<u.length;i++)s+=String.fromCharCode(u[i]);return btoa(s).replace(/\\+/g,'-').replace(/\\//g,'_').replace(/=+$/,'')};\
var kcOpts=JSON.parse(document.getElementById('kc-webauthn-options').textContent);\
Object.keys(kcOpts).forEach(function(k){if(kcOpts[k]===null)delete kcOpts[k]});";

/// JSON inside a `<script>` element.
fn script_json(v: &Value) -> String {
    v.to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

fn error_html(error: Option<&str>) -> String {
    error
        .map(|e| {
            format!(
                "<p class=\"error\" role=\"alert\" id=\"input-error\">{}</p>",
                escape(e)
            )
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Authentication
// ---------------------------------------------------------------------------------------

/// The authentication page: the options of `navigator.credentials.get`.
#[derive(Debug, Clone)]
pub struct AuthPage {
    /// `PublicKeyCredentialRequestOptions` (binary values Base64url).
    pub options: Value,
    /// Keycloak's message of the failure shown.
    pub error: Option<&'static str>,
}

/// What the authenticator did.
pub enum AuthOut {
    /// The user is authenticated.
    Success,
    /// A required second factor the user has no credential for: its required action.
    SetupRequired(&'static str),
    /// The page.
    Challenge(AuthPage),
    /// An answer (storage failure).
    Answer(Response),
}

/// The login step's inputs.
pub struct Step<'a> {
    /// The server.
    pub state: &'a AppState,
    /// The realm.
    pub snap: &'a RealmSnapshot,
    /// The server's base URL (origin and RP ID).
    pub base: &'a str,
    /// The client's address (brute force).
    pub remote: Option<std::net::IpAddr>,
    /// `webauthn-authenticator-passwordless`.
    pub passwordless: bool,
}

async fn load(s: &Step<'_>, id: &str) -> Option<(UserRow, UserRepresentation)> {
    let row = s.state.store.user_by_id(&s.snap.id, id).await.ok()??;
    let user = parse_user(&row).ok()?;
    Some((row, user))
}

/// A fresh challenge (kept in the pending login) and the page's options.
fn challenge(
    s: &Step<'_>,
    policy: &Policy,
    pending: &mut PendingLogin,
    user: Option<&UserRepresentation>,
    error: Option<&'static str>,
) -> AuthOut {
    let Ok(bytes) = crate::crypto::random_bytes(32) else {
        return AuthOut::Answer(internal_error());
    };
    let challenge = URL_SAFE_NO_PAD.encode(&bytes);
    pending.webauthn_challenge = Some(challenge.clone());
    let allow: Vec<Value> = user
        .map(|u| {
            wa::credentials(u, policy.credential_type)
                .filter_map(|(_, d)| {
                    let id = d.id_bytes()?;
                    Some(json!({"type": "public-key", "id": URL_SAFE_NO_PAD.encode(id), "transports": d.transports}))
                })
                .collect()
        })
        .unwrap_or_default();
    let uv = match policy.user_verification.as_str() {
        "not specified" => Value::Null,
        v => json!(v),
    };
    let timeout = if policy.create_timeout > 0 {
        json!(u64::from(policy.create_timeout) * 1000)
    } else {
        Value::Null
    };
    AuthOut::Challenge(AuthPage {
        options: json!({
            "challenge": challenge,
            "rpId": policy.rp_id_for(s.base),
            "allowCredentials": allow,
            "userVerification": uv,
            "timeout": timeout,
        }),
        error,
    })
}

/// Runs the authenticator: shows the page, or checks the posted assertion.
pub async fn authenticate(
    s: &Step<'_>,
    pending: &mut PendingLogin,
    posted: Option<Fields<'_>>,
) -> AuthOut {
    let policy = Policy::of(&s.snap.rep, s.passwordless);
    let known = match pending.flow.user.clone() {
        Some(id) => match load(s, &id).await {
            Some(u) => Some(u),
            None => return AuthOut::Answer(internal_error()),
        },
        None => None,
    };
    // The planner runs the step for a known user without the credential only when it is
    // required: `setRequiredActions` adds its registration.
    let has = known
        .as_ref()
        .is_some_and(|(_, u)| wa::credentials(u, policy.credential_type).next().is_some());
    if known.is_some() && !has {
        return AuthOut::SetupRequired(register_action(s.passwordless));
    }
    let Some(f) = posted else {
        return challenge(s, &policy, pending, known.as_ref().map(|(_, u)| u), None);
    };
    // The challenge is used once, whatever the outcome.
    let issued = pending
        .webauthn_challenge
        .take()
        .and_then(|c| wa::b64url(&c))
        .unwrap_or_default();
    let event = |user: Option<&UserRepresentation>, error: &str, id: Option<&str>| {
        let mut e = crate::authn::login_event(s.snap, &pending.request)
            .detail("credential_type", policy.credential_type);
        if let Some(u) = user {
            if let Some(uid) = &u.id {
                e.set_user(uid.clone());
            }
            e.set_detail("username", u.username.clone().unwrap_or_default());
        }
        if let Some(id) = id {
            e.set_detail("public_key_credential_id", id.to_string());
        }
        e.error(s.state, error);
    };
    let fail_page = |pending: &mut PendingLogin, user: Option<&UserRepresentation>, msg| {
        challenge(s, &policy, pending, user, Some(msg))
    };
    let known_user = known.as_ref().map(|(_, u)| u);
    if f("error").is_some_and(|e| !e.trim().is_empty()) {
        event(known_user, errors::NOT_ALLOWED, None);
        return fail_page(pending, known_user, wa::ERROR_API_GET);
    }
    let Some(assertion) = Assertion::parse(f) else {
        event(known_user, errors::NOT_ALLOWED, None);
        return fail_page(pending, known_user, wa::ERROR_API_GET);
    };
    // Who: the user of an earlier step, else the one the credential names (`userHandle`).
    let (row, user) = match (&known, &assertion.user_handle) {
        (Some((row, user)), handle) => {
            if handle.as_ref().is_some_and(|h| *h != row.id) {
                event(Some(user), "different_user_authenticated", None);
                return fail_page(pending, Some(user), wa::ERROR_DIFFERENT_USER);
            }
            (row.clone(), user.clone())
        }
        (None, Some(handle)) => match load(s, handle).await {
            Some(u) => u,
            None => {
                event(None, errors::USER_NOT_FOUND, None);
                return fail_page(pending, None, wa::ERROR_USER_NOT_FOUND);
            }
        },
        (None, None) => {
            event(None, errors::USER_NOT_FOUND, None);
            return fail_page(pending, None, wa::ERROR_USER_NOT_FOUND);
        }
    };
    let shown = known_user.map(|_| &user);
    let id_text = URL_SAFE_NO_PAD.encode(&assertion.credential_id);
    let attempt = match brute_force::begin(s.state, s.snap, &row.id, &user).await {
        Ok(brute_force::Gate::Open(a)) => a,
        Ok(brute_force::Gate::Locked(lock)) => {
            event(Some(&user), lock.event_error(), Some(&id_text));
            return fail_page(pending, shown, wa::ERROR_AUTH_VERIFICATION);
        }
        Err(_) => return AuthOut::Answer(internal_error()),
    };
    if user.enabled == Some(false) {
        event(Some(&user), errors::USER_DISABLED, Some(&id_text));
        return fail_page(pending, shown, wa::ERROR_USER_NOT_FOUND);
    }
    let stored: Vec<(String, CredentialData)> = wa::credentials(&user, policy.credential_type)
        .map(|(c, d)| (c.id.clone().unwrap_or_default(), d))
        .collect();
    let datas: Vec<CredentialData> = stored.iter().map(|(_, d)| d.clone()).collect();
    match wa::verify(&policy, s.base, &issued, &datas, &assertion) {
        Ok((index, next)) => {
            if next != datas[index].counter {
                if let Err(r) =
                    store_counter(s, &row.id, &stored[index].0, &datas[index], next).await
                {
                    return AuthOut::Answer(r);
                }
            }
            attempt.succeeded().await;
            pending.flow.user = Some(row.id.clone());
            pending.flow.used(policy.credential_type);
            AuthOut::Success
        }
        Err(Refusal::UnknownCredential) => {
            event(Some(&user), errors::USER_NOT_FOUND, Some(&id_text));
            attempt.failed(s.remote).await;
            fail_page(pending, shown, wa::ERROR_USER_NOT_FOUND)
        }
        Err(Refusal::Invalid(why)) => {
            tracing::info!(realm = %s.snap.name, reason = %why, "WebAuthn assertion refused");
            event(
                Some(&user),
                errors::INVALID_USER_CREDENTIALS,
                Some(&id_text),
            );
            attempt.failed(s.remote).await;
            fail_page(pending, shown, wa::ERROR_AUTH_VERIFICATION)
        }
    }
}

/// Writes a credential's new counter (the user read again: another step may have changed it).
async fn store_counter(
    s: &Step<'_>,
    user_id: &str,
    cred_id: &str,
    data: &CredentialData,
    next: u64,
) -> Result<(), Response> {
    let Some((mut row, mut user)) = load(s, user_id).await else {
        return Err(internal_error());
    };
    let found = user.credentials.iter_mut().flatten().find(|c| {
        c.id.as_deref().unwrap_or_default() == cred_id
            && CredentialData::of(c).is_some_and(|d| d.credential_id == data.credential_id)
    });
    let Some(c) = found else {
        return Ok(());
    };
    let mut d = data.clone();
    d.counter = next;
    c.credential_data = Some(serde_json::to_string(&d).map_err(|_| internal_error())?);
    row.representation = serde_json::to_string(&user).map_err(|_| internal_error())?;
    s.state
        .store
        .update_user(&s.snap.id, &row)
        .await
        .map_err(|_| internal_error())
}

/// The authentication page (`webauthn-authenticate.ftl`'s form `webauth`).
pub fn render_auth(snap: &RealmSnapshot, action: &str, code: &str, p: &AuthPage) -> String {
    let title = realm_title(snap);
    html_page(
        &format!("Sign in to {title}"),
        &format!(
            "<h1>Sign in to {t}</h1>{err}\
             <script type=\"application/json\" id=\"kc-webauthn-options\">{opts}</script>\
             <form id=\"webauth\" action=\"{a}\" method=\"post\">\
             <input type=\"hidden\" name=\"session_code\" value=\"{s}\">\
             <input type=\"hidden\" id=\"clientDataJSON\" name=\"clientDataJSON\">\
             <input type=\"hidden\" id=\"authenticatorData\" name=\"authenticatorData\">\
             <input type=\"hidden\" id=\"signature\" name=\"signature\">\
             <input type=\"hidden\" id=\"credentialId\" name=\"credentialId\">\
             <input type=\"hidden\" id=\"userHandle\" name=\"userHandle\">\
             <input type=\"hidden\" id=\"error\" name=\"error\">\
             <button type=\"button\" id=\"authenticateWebAuthnButton\">Sign in with Passkey</button></form>\
             <script>(function(){{{helpers}\
             var f=document.getElementById('webauth');\
             document.getElementById('authenticateWebAuthnButton').addEventListener('click',function(){{\
             kcOpts.challenge=kcB(kcOpts.challenge);\
             (kcOpts.allowCredentials||[]).forEach(function(c){{c.id=kcB(c.id)}});\
             navigator.credentials.get({{publicKey:kcOpts}}).then(function(c){{\
             f.clientDataJSON.value=kcE(c.response.clientDataJSON);\
             f.authenticatorData.value=kcE(c.response.authenticatorData);\
             f.signature.value=kcE(c.response.signature);\
             f.credentialId.value=kcE(c.rawId);\
             if(c.response.userHandle)f.userHandle.value=kcE(c.response.userHandle);\
             f.submit()}}).catch(function(e){{f.error.value=String(e);f.submit()}})}})}})();</script>",
            t = escape(&title),
            err = error_html(p.error),
            opts = script_json(&p.options),
            a = escape(action),
            s = escape(code),
            helpers = JS_HELPERS,
        ),
    )
}

// ---------------------------------------------------------------------------------------
// Registration (required actions)
// ---------------------------------------------------------------------------------------

/// The registration page: new options (the state kept in `pending`).
/// `None` when the options cannot be made (an internal error).
pub fn register_page(
    a: &Actions<'_>,
    code: &str,
    pending: &mut PendingLogin,
    row: &UserRow,
    user: &UserRepresentation,
    passwordless: bool,
    error: Option<&str>,
) -> Option<String> {
    let action = crate::http::paths::url("", crate::http::paths::REQUIRED_ACTION, &a.snap.name);
    let policy = Policy::of(&a.snap.rep, passwordless);
    let exclude: Vec<Vec<u8>> = wa::credentials(user, policy.credential_type)
        .filter_map(|(_, d)| d.id_bytes())
        .collect();
    let username = user.username.clone().unwrap_or_default();
    // `WebAuthnRegister`: the user handle is the user id's UTF-8 bytes.
    let (options, state) =
        wa::registration_options(&policy, a.base, row.id.as_bytes(), &username, exclude)?;
    pending.webauthn_registration = Some(serde_json::to_value(&state).ok()?);
    let title = realm_title(a.snap);
    Some(html_page(
        &format!("Passkey Registration - {title}"),
        &format!(
            "<h1>Passkey Registration</h1>{err}\
             <script type=\"application/json\" id=\"kc-webauthn-options\">{opts}</script>\
             <form id=\"register\" action=\"{a}\" method=\"post\">\
             <input type=\"hidden\" name=\"session_code\" value=\"{s}\">\
             <input type=\"hidden\" id=\"clientDataJSON\" name=\"clientDataJSON\">\
             <input type=\"hidden\" id=\"attestationObject\" name=\"attestationObject\">\
             <input type=\"hidden\" id=\"publicKeyCredentialId\" name=\"publicKeyCredentialId\">\
             <input type=\"hidden\" id=\"authenticatorLabel\" name=\"authenticatorLabel\">\
             <input type=\"hidden\" id=\"transports\" name=\"transports\">\
             <input type=\"hidden\" id=\"error\" name=\"error\">\
             <button type=\"button\" id=\"registerWebAuthn\">Register</button>{cancel}</form>\
             <script>(function(){{{helpers}\
             var f=document.getElementById('register');\
             document.getElementById('registerWebAuthn').addEventListener('click',function(){{\
             kcOpts.challenge=kcB(kcOpts.challenge);kcOpts.user.id=kcB(kcOpts.user.id);\
             (kcOpts.excludeCredentials||[]).forEach(function(c){{c.id=kcB(c.id)}});\
             navigator.credentials.create({{publicKey:kcOpts}}).then(function(c){{\
             f.clientDataJSON.value=kcE(c.response.clientDataJSON);\
             f.attestationObject.value=kcE(c.response.attestationObject);\
             f.publicKeyCredentialId.value=kcE(c.rawId);\
             f.transports.value=(c.response.getTransports?c.response.getTransports():[]).join(',');\
             f.authenticatorLabel.value=window.prompt('Please input your registered passkey\\'s label','')||'';\
             f.submit()}}).catch(function(e){{f.error.value=String(e);f.submit()}})}})}})();</script>",
            err = error_html(error),
            opts = script_json(&options),
            a = escape(&action),
            s = escape(code),
            helpers = JS_HELPERS,
            cancel = super::configure_totp::cancel_button(pending, user, register_action(passwordless)),
        ),
    ))
}

/// The registration post: verified against the state this login's page kept; the credential
/// stored in Keycloak's shape.
pub async fn register_post(
    a: &Actions<'_>,
    pending: &mut PendingLogin,
    row: &UserRow,
    user: &UserRepresentation,
    f: Fields<'_>,
    passwordless: bool,
) -> Posted {
    let policy = Policy::of(&a.snap.rep, passwordless);
    let state = pending
        .webauthn_registration
        .take()
        .and_then(|v| serde_json::from_value(v).ok());
    let failed = |why: &str| {
        tracing::info!(realm = %a.snap.name, reason = %why, "WebAuthn registration refused");
        let mut e = crate::events::UserEvent::new(a.snap, "UPDATE_CREDENTIAL")
            .user(row.id.clone())
            .detail("credential_type", policy.credential_type)
            .detail("username", user.username.clone().unwrap_or_default());
        if let Some(c) = &pending.request.client_id {
            e.set_client(c.clone());
        }
        e.error(a.state, "invalid_registration");
    };
    if f("error").is_some_and(|e| !e.trim().is_empty()) {
        failed("navigator.credentials.create failed");
        return Posted::Again(wa::ERROR_REGISTRATION.into());
    }
    let Some(state) = state else {
        failed("no registration challenge");
        return Posted::Again(wa::ERROR_REGISTER_VERIFICATION.into());
    };
    let r = Registration {
        client_data_json: f("clientDataJSON").unwrap_or_default(),
        attestation_object: f("attestationObject").unwrap_or_default(),
        credential_id: f("publicKeyCredentialId").unwrap_or_default(),
        transports: f("transports").unwrap_or_default(),
    };
    let data = match wa::register(&policy, a.base, &state, &r) {
        Ok(d) => d,
        Err(why) => {
            failed(&why);
            return Posted::Again(wa::ERROR_REGISTER_VERIFICATION.into());
        }
    };
    let mut updated = user.clone();
    let mut c = CredentialRepresentation {
        id: Some(uuid::Uuid::new_v4().to_string()),
        kind: Some(policy.credential_type.into()),
        created_date: Some(now() * 1000),
        credential_data: Some(serde_json::to_string(&data).unwrap_or_default()),
        secret_data: Some("{}".into()),
        ..Default::default()
    };
    let label = f("authenticatorLabel").unwrap_or_default().trim();
    if !label.is_empty() {
        c.extra.insert("userLabel".into(), json!(label));
    }
    updated.credentials.get_or_insert_with(Vec::new).push(c);
    if let Err(r) = save(a, row, &updated).await {
        return Posted::End(r);
    }
    let mut e = crate::events::UserEvent::new(a.snap, "UPDATE_CREDENTIAL")
        .user(row.id.clone())
        .detail("credential_type", policy.credential_type)
        .detail("username", user.username.clone().unwrap_or_default())
        .detail("public_key_credential_id", r.credential_id.to_string())
        .detail("public_key_credential_label", label.to_string())
        .detail("public_key_credential_aaguid", data.aaguid.clone());
    if let Some(c) = &pending.request.client_id {
        e.set_client(c.clone());
    }
    e.success(a.state);
    Posted::Done
}

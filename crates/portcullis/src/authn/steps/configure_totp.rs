//! Required action `CONFIGURE_TOTP` (Keycloak's `UpdateTotp`, `TotpBean`,
//! `login-config-totp.ftl`): the page shows a secret generated once per login (kept in the
//! pending login as Keycloak keeps auth note `TOTP_SECRET_KEY`), as Base32 in groups of four
//! and as a QR code of the `otpauth://` key URI (inline SVG, rendered here); the posted code is
//! checked under the realm's OTP policy and the credential stored in Keycloak's shape (type
//! `otp`, `credentialData`/`secretData` JSON strings, `userLabel`). The posted `totpSecret` is
//! not trusted: the secret is the one this login showed.

use base64::Engine as _;

use crate::authn::pages::{escape, page as html_page, realm_title};
use crate::authn::PendingLogin;
use crate::clock::now;
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::{CredentialRepresentation, UserRepresentation};
use crate::store::UserRow;
use crate::users::otp::{base32_encode, generate_secret, key_uri, Credential, Policy};

use super::otp::INVALID_TOTP;
use super::required_action::{save, Actions, Fields, Posted};

/// Keycloak's `missingTotpMessage`.
pub const MISSING_TOTP: &str = "Please specify authenticator code.";
/// Keycloak's `missingTotpDeviceNameMessage`.
pub const MISSING_DEVICE_NAME: &str = "Please specify device name.";

/// `TotpUtils.encode`: the secret's Base32, in groups of four separated by spaces.
pub fn encoded_secret(secret: &str) -> String {
    let b32 = base32_encode(secret.as_bytes());
    b32.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The QR code of `uri` as an SVG data URI (`TotpUtils.qrCode` renders a PNG; an SVG needs
/// no image library and scales).
pub fn qr_data_uri(uri: &str) -> Option<String> {
    let code = qrcode::QrCode::new(uri.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(246, 246)
        .build();
    Some(format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    ))
}

/// The issuer of the key URI: the realm's display name, else its name.
fn issuer(snap: &RealmSnapshot) -> String {
    realm_title(snap)
}

fn has_otp(user: &UserRepresentation) -> bool {
    user.credentials
        .iter()
        .flatten()
        .any(|c| c.kind.as_deref() == Some("otp"))
}

/// The page (its secret kept in `pending`).
pub fn page(
    snap: &RealmSnapshot,
    action: &str,
    code: &str,
    pending: &mut PendingLogin,
    user: &UserRepresentation,
    error: Option<&str>,
) -> String {
    let secret = pending
        .totp_secret
        .get_or_insert_with(generate_secret)
        .clone();
    let policy = Policy::of(&snap.rep);
    let username = user.username.clone().unwrap_or_default();
    let uri = key_uri(&policy, &issuer(snap), &username, &secret);
    let qr = qr_data_uri(&uri)
        .map(|d| {
            format!(
                "<img id=\"kc-totp-secret-qr-code\" src=\"{}\" alt=\"Figure: Barcode\" width=\"246\" height=\"246\">",
                escape(&d)
            )
        })
        .unwrap_or_default();
    let err = error
        .map(|e| {
            format!(
                "<p class=\"error\" role=\"alert\" id=\"input-error-otp-code\">{}</p>",
                escape(e)
            )
        })
        .unwrap_or_default();
    let (kind, tail) = if policy.totp {
        ("Time-based", format!("Period: {}", policy.period))
    } else {
        (
            "Counter-based",
            format!("Counter: {}", policy.initial_counter),
        )
    };
    let label_required = has_otp(user);
    html_page(
        &format!("Mobile Authenticator Setup - {}", realm_title(snap)),
        &format!(
            "<h1>Mobile Authenticator Setup</h1>{err}\
             <ol id=\"kc-totp-settings\">\
             <li><p>Install one of the following applications on your mobile: FreeOTP, Google Authenticator, Microsoft Authenticator.</p></li>\
             <li><p>Open the application and scan the barcode:</p>{qr}\
             <p>Unable to scan? Enter this key:</p><p><span id=\"kc-totp-secret-key\">{enc}</span></p>\
             <ul id=\"kc-totp-policy\"><li>Type: {kind}</li><li>Algorithm: {alg}</li><li>Digits: {digits}</li><li>{tail}</li></ul>\
             <p>Key URI: <code id=\"kc-totp-key-uri\">{uri}</code></p></li>\
             <li><p>Enter the one-time code provided by the application and click Submit to finish the setup.</p>\
             <p>Provide a Device Name to help you manage your OTP devices.</p></li></ol>\
             <form id=\"kc-totp-settings-form\" action=\"{a}\" method=\"post\">\
             <input type=\"hidden\" name=\"session_code\" value=\"{s}\">\
             <label for=\"totp\">One-time code *</label><input id=\"totp\" name=\"totp\" type=\"text\" autocomplete=\"off\" required{inv}>\
             <input type=\"hidden\" id=\"totpSecret\" name=\"totpSecret\" value=\"{secret}\">\
             <label for=\"userLabel\">Device Name{star}</label><input id=\"userLabel\" name=\"userLabel\" type=\"text\" autocomplete=\"off\"{req}>\
             <button type=\"submit\" id=\"saveTOTPBtn\">Submit</button>{cancel}</form>",
            enc = escape(&encoded_secret(&secret)),
            alg = policy.algorithm.uri_name(),
            digits = policy.digits,
            uri = escape(&uri),
            a = escape(action),
            s = escape(code),
            secret = escape(&secret),
            inv = if error.is_some() { " aria-invalid=\"true\" aria-describedby=\"input-error-otp-code\"" } else { "" },
            star = if label_required { " *" } else { "" },
            req = if label_required { " required" } else { "" },
            cancel = cancel_button(pending, user, "CONFIGURE_TOTP"),
        ),
    )
}

/// The `cancel-aia` button of an application-initiated action the user may refuse.
pub(crate) fn cancel_button(
    pending: &PendingLogin,
    user: &UserRepresentation,
    alias: &str,
) -> &'static str {
    let aia = pending.request.kc_action.as_deref() == Some(alias);
    let enforced = user.required_actions.iter().flatten().any(|x| x == alias)
        || pending.session_actions.iter().any(|x| x == alias);
    if aia && !enforced {
        " <button type=\"submit\" name=\"cancel-aia\" value=\"true\" id=\"cancelTOTPBtn\" formnovalidate>Cancel</button>"
    } else {
        ""
    }
}

/// POST: `totp` checked against the secret this login showed, `userLabel` required when the
/// user has an OTP device already; the credential is stored from the realm's policy.
pub async fn post(
    a: &Actions<'_>,
    pending: &mut PendingLogin,
    row: &UserRow,
    user: &UserRepresentation,
    f: Fields<'_>,
) -> Posted {
    let Some(secret) = pending.totp_secret.clone() else {
        // No page was shown with a secret: show it.
        return Posted::Again(MISSING_TOTP.into());
    };
    let code = f("totp").unwrap_or_default().trim();
    let label = f("userLabel").unwrap_or_default().trim();
    if code.is_empty() {
        return Posted::Again(MISSING_TOTP.into());
    }
    let policy = Policy::of(&a.snap.rep);
    let (credential_data, secret_data) = Credential::stored(&policy, &secret);
    let Some(cred) = Credential::parse(&credential_data, &secret_data) else {
        return Posted::End(crate::authn::pages::internal_error());
    };
    let Some(matched) = cred.verify(code, now(), policy.look_ahead) else {
        return Posted::Again(INVALID_TOTP.into());
    };
    if has_otp(user) && label.is_empty() {
        return Posted::Again(MISSING_DEVICE_NAME.into());
    }
    // HOTP: the submitted code is used up (`UpdateTotp`: counter advanced past it).
    let credential_data = if cred.is_hotp() {
        let mut data = cred.data.clone();
        data.counter = matched + 1;
        serde_json::to_string(&data).unwrap_or(credential_data)
    } else {
        credential_data
    };
    let mut updated = user.clone();
    let mut c = CredentialRepresentation {
        id: Some(uuid::Uuid::new_v4().to_string()),
        kind: Some("otp".into()),
        created_date: Some(now() * 1000),
        credential_data: Some(credential_data),
        secret_data: Some(secret_data),
        ..Default::default()
    };
    if !label.is_empty() {
        c.extra.insert("userLabel".into(), serde_json::json!(label));
    }
    updated.credentials.get_or_insert_with(Vec::new).push(c);
    if let Err(r) = save(a, row, &updated).await {
        return Posted::End(r);
    }
    pending.totp_secret = None;
    // Keycloak 26's `UpdateTotp`: `UPDATE_CREDENTIAL` and the deprecated `UPDATE_TOTP`.
    for kind in ["UPDATE_CREDENTIAL", "UPDATE_TOTP"] {
        let mut e = crate::events::UserEvent::new(a.snap, kind)
            .user(row.id.clone())
            .detail("credential_type", "otp")
            .detail("username", user.username.clone().unwrap_or_default());
        if let Some(c) = &pending.request.client_id {
            e.set_client(c.clone());
        }
        e.success(a.state);
    }
    Posted::Done
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn secret_shown_as_keycloak_groups_it() {
        assert_eq!(
            encoded_secret("aB3dE5fG7hJ9kL1mN2pQ"),
            "MFBD GZCF GVTE ON3I JI4W WTBR NVHD E4CR"
        );
    }

    #[test]
    fn qr_code_is_an_svg_data_uri() {
        let d = qr_data_uri("otpauth://totp/r:alice?secret=ABC&digits=6").unwrap();
        let svg = base64::engine::general_purpose::STANDARD
            .decode(d.strip_prefix("data:image/svg+xml;base64,").unwrap())
            .unwrap();
        let svg = String::from_utf8(svg).unwrap();
        assert!(svg.contains("<svg") && svg.contains("<path"), "{svg}");
    }
}

//! Server-rendered login pages. No JavaScript; accessible labels; generic error text that does
//! not tell whether a user exists.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use crate::realm::snapshot::RealmSnapshot;

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

pub(crate) fn realm_title(snap: &RealmSnapshot) -> String {
    snap.settings
        .display_name
        .clone()
        .unwrap_or_else(|| snap.name.clone())
}

pub(crate) fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t}</title><style>body{{font-family:system-ui,sans-serif;max-width:24rem;margin:4rem auto;padding:0 1rem}}\
         label{{display:block;margin-top:1rem}}input{{width:100%;padding:.5rem;box-sizing:border-box}}button{{margin-top:1.5rem;padding:.6rem 1.2rem}}\
         .error{{color:#a00;border:1px solid #a00;padding:.5rem}}</style></head><body><main>{body}</main></body></html>",
        t = escape(title)
    )
}

/// The login form.
pub fn login_page(
    snap: &RealmSnapshot,
    action: &str,
    session_code: &str,
    login_hint: Option<&str>,
    error: Option<&str>,
) -> String {
    let email = snap.settings.login_with_email_allowed;
    let label = if email {
        "Username or email"
    } else {
        "Username"
    };
    let err = error
        .map(|e| {
            format!(
                "<p class=\"error\" role=\"alert\" id=\"login-error\">{}</p>",
                escape(e)
            )
        })
        .unwrap_or_default();
    let title = realm_title(snap);
    page(
        &format!("Sign in to {title}"),
        &format!(
            "<h1>Sign in to {t}</h1>{err}<form id=\"kc-form-login\" action=\"{a}\" method=\"post\">\
             <input type=\"hidden\" name=\"session_code\" value=\"{s}\">\
             <label for=\"username\">{label}</label><input id=\"username\" name=\"username\" value=\"{u}\" autocomplete=\"username\" autofocus required{inv}>\
             <label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required{inv}>\
             {remember}<button type=\"submit\" id=\"kc-login\">Sign in</button></form>{forgot}{register}{providers}",
            forgot = forgot_link(snap),
            providers = provider_links(snap, session_code),
            // `login.ftl`: "New user? Register" where the realm allows registration.
            register = if crate::authn::register::realm_allows(snap) {
                format!(
                    "<div id=\"kc-registration\"><span>New user? <a id=\"kc-register-link\" href=\"{}\">Register</a></span></div>",
                    escape(&crate::authn::register::page_url(snap, session_code))
                )
            } else {
                String::new()
            },
            remember = if snap.settings.remember_me {
                "<label for=\"rememberMe\"><input id=\"rememberMe\" name=\"rememberMe\" type=\"checkbox\" style=\"width:auto\"> Remember me</label>"
            } else {
                ""
            },
            t = escape(&title),
            a = escape(action),
            s = escape(session_code),
            u = escape(login_hint.unwrap_or_default()),
            inv = if error.is_some() { " aria-invalid=\"true\" aria-describedby=\"login-error\"" } else { "" },
        ),
    )
}

/// `login.ftl`'s `kc-social-providers`: a link per identity provider offered on the login
/// page (enabled, not `hideOnLogin`), which starts the login there.
fn provider_links(snap: &RealmSnapshot, session_code: &str) -> String {
    let options = crate::broker::login_options(snap);
    if options.is_empty() {
        return String::new();
    }
    let items: String = options
        .iter()
        .map(|(alias, name)| {
            format!(
                "<li><a id=\"social-{a}\" class=\"kc-social-item\" href=\"{h}\">{n}</a></li>",
                a = escape(alias),
                h = escape(&crate::broker::login_link(snap, alias, session_code)),
                n = escape(name),
            )
        })
        .collect();
    format!("<div id=\"kc-social-providers\"><h2>Or sign in with</h2><ul>{items}</ul></div>")
}

/// Keycloak's "Forgot Password?" link (`doForgotPassword`) when the realm has
/// `resetPasswordAllowed`. The flow it starts finds this login through the browser's
/// `AUTH_SESSION_ID` cookie.
fn forgot_link(snap: &RealmSnapshot) -> String {
    if !crate::authn::reset::allowed(snap) {
        return String::new();
    }
    format!(
        "<p><a id=\"kc-forgot-password\" href=\"{}\">Forgot Password?</a></p>",
        escape(&crate::http::paths::url(
            "",
            crate::http::paths::RESET_CREDENTIALS,
            &snap.name
        ))
    )
}

/// `page` with an information message under its heading (Keycloak's success message, as
/// `forkWithSuccessMessage` shows it on the login page).
pub fn with_info(page: String, message: &str) -> String {
    let info = format!(
        "<p class=\"info\" role=\"status\" id=\"kc-info-message\">{}</p>",
        escape(message)
    );
    match page.find("</h1>") {
        Some(i) => format!("{}{info}{}", &page[..i + 5], &page[i + 5..]),
        None => page,
    }
}

/// One input of a [`step_page`].
pub struct Field<'a> {
    /// `name` (and `id`).
    pub name: &'a str,
    /// Label text.
    pub label: &'a str,
    /// `type`.
    pub kind: &'a str,
    /// `autocomplete`.
    pub autocomplete: &'a str,
    /// Pre-filled value.
    pub value: &'a str,
}

/// The page of a login step other than the username-password form (identity-first username or
/// password, OTP): a heading, an error, `extra` HTML (escaped by the caller) and the fields.
pub fn step_page(
    snap: &RealmSnapshot,
    form_id: &str,
    action: &str,
    session_code: &str,
    fields: &[Field<'_>],
    extra: &str,
    error: Option<&str>,
) -> String {
    let err = error
        .map(|e| {
            format!(
                "<p class=\"error\" role=\"alert\" id=\"input-error\">{}</p>",
                escape(e)
            )
        })
        .unwrap_or_default();
    let inv = if error.is_some() {
        " aria-invalid=\"true\" aria-describedby=\"input-error\""
    } else {
        ""
    };
    let inputs: String = fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            format!(
                "<label for=\"{n}\">{l}</label><input id=\"{n}\" name=\"{n}\" type=\"{k}\" value=\"{v}\" autocomplete=\"{a}\" required{af}{inv}>",
                n = escape(f.name),
                l = escape(f.label),
                k = escape(f.kind),
                v = escape(f.value),
                a = escape(f.autocomplete),
                af = if i == 0 { " autofocus" } else { "" },
            )
        })
        .collect();
    let title = realm_title(snap);
    page(
        &format!("Sign in to {title}"),
        &format!(
            "<h1>Sign in to {t}</h1>{err}<form id=\"{id}\" action=\"{a}\" method=\"post\">\
             <input type=\"hidden\" name=\"session_code\" value=\"{s}\">{extra}{inputs}\
             <button type=\"submit\" id=\"kc-login\">Sign in</button></form>",
            t = escape(&title),
            id = escape(form_id),
            a = escape(action),
            s = escape(session_code),
        ),
    )
}

/// The update-password form (required action `UPDATE_PASSWORD`).
pub fn update_password_page(
    snap: &RealmSnapshot,
    action: &str,
    session_code: &str,
    error: Option<&str>,
) -> String {
    let err = error
        .map(|e| {
            format!(
                "<p class=\"error\" role=\"alert\" id=\"password-error\">{}</p>",
                escape(e)
            )
        })
        .unwrap_or_default();
    let inv = if error.is_some() {
        " aria-invalid=\"true\" aria-describedby=\"password-error\""
    } else {
        ""
    };
    page(
        &format!("Update password - {}", realm_title(snap)),
        &format!(
            "<h1>Update password</h1><p>You need to change your password.</p>{err}<form id=\"kc-passwd-update-form\" method=\"post\" action=\"{a}\">\
             <input type=\"hidden\" name=\"session_code\" value=\"{s}\">\
             <label for=\"password-new\">New password</label><input id=\"password-new\" name=\"password-new\" type=\"password\" autocomplete=\"new-password\" required{inv}>\
             <label for=\"password-confirm\">Confirm password</label><input id=\"password-confirm\" name=\"password-confirm\" type=\"password\" autocomplete=\"new-password\" required{inv}>\
             <button type=\"submit\">Submit</button></form>",
            a = escape(action),
            s = escape(session_code),
        ),
    )
}

/// The consent screen: which client asks for what.
pub fn consent_page(
    snap: &RealmSnapshot,
    action: &str,
    session_code: &str,
    client: &str,
    scopes: &[String],
) -> String {
    let items: String = scopes
        .iter()
        .map(|t| format!("<li>{}</li>", escape(t)))
        .collect();
    page(
        &format!("Grant access - {}", realm_title(snap)),
        &format!(
            "<h1>Do you grant these access privileges?</h1><p><strong>{c}</strong> asks for:</p><ul id=\"kc-oauth-scopes\">{items}</ul>\
             <form id=\"kc-oauth-form\" method=\"post\" action=\"{a}\"><input type=\"hidden\" name=\"session_code\" value=\"{s}\">\
             <button type=\"submit\" name=\"accept\" value=\"yes\" id=\"kc-login\">Yes</button> \
             <button type=\"submit\" name=\"accept\" value=\"no\" id=\"kc-cancel\">No</button></form>",
            c = escape(client),
            a = escape(action),
            s = escape(session_code),
        ),
    )
}

/// A page with a heading and one message.
pub fn message_page(snap: &RealmSnapshot, title: &str, message: &str) -> String {
    page(
        &format!("{title} - {}", realm_title(snap)),
        &format!("<h1>{}</h1><p>{}</p>", escape(title), escape(message)),
    )
}

/// The logout confirmation form.
pub fn logout_confirm_page(snap: &RealmSnapshot, action: &str, session_code: &str) -> String {
    page(
        &format!("Logging out - {}", realm_title(snap)),
        &format!(
            "<h1>Logging out</h1><p>Do you want to log out?</p><form id=\"kc-logout-form\" method=\"post\" action=\"{}\">\
             <input type=\"hidden\" name=\"session_code\" value=\"{}\"><button type=\"submit\" id=\"kc-logout\">Logout</button></form>",
            escape(action),
            escape(session_code)
        ),
    )
}

/// An error page that never redirects (bad client or redirect URI).
pub fn error_page(status: StatusCode, message: &str) -> Response {
    let mut r = (
        status,
        Html(page(
            "Error",
            &format!(
                "<h1>We are sorry...</h1><p role=\"alert\">{}</p>",
                escape(message)
            ),
        )),
    )
        .into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// An HTML page with security headers (no framing, no caching).
pub fn html(status: StatusCode, body: String) -> Response {
    let mut r = (status, Html(body)).into_response();
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-frame-options", HeaderValue::from_static("SAMEORIGIN"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static("frame-src 'self'; frame-ancestors 'self'; object-src 'none';"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    r
}

/// The answer to a storage failure on a page.
pub fn internal_error() -> Response {
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "An internal error occurred.",
    )
}

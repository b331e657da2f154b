//! The answer to the client at the end of a browser login (OAuth 2.0 Multiple Response Type
//! Encoding Practices, Form Post Response Mode): a redirect with the parameters in the query
//! or the fragment, or a self-submitting form.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::pages::{escape, html};
use super::AuthRequest;

/// Keycloak's `OIDCResponseType`: `response_type` as a set of `code`, `token`, `id_token` and
/// `none` (`none` only alone). `token` alone is accepted, as Keycloak does for plain OAuth2
/// clients.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResponseType {
    /// `code`.
    pub code: bool,
    /// `token`.
    pub token: bool,
    /// `id_token`.
    pub id_token: bool,
    /// `none`.
    pub none: bool,
}

impl ResponseType {
    /// Parses the parameter as Keycloak does (`trim`, then split at single spaces); `None` for
    /// an unknown value or `none` with another type.
    pub fn parse(param: &str) -> Option<Self> {
        let mut t = ResponseType::default();
        let mut count = 0;
        for part in param.trim().split(' ') {
            match part {
                "code" => t.code = true,
                "token" => t.token = true,
                "id_token" => t.id_token = true,
                "none" => t.none = true,
                _ => return None,
            }
            count += 1;
        }
        (!t.none || count == 1).then_some(t)
    }

    /// Tokens are sent from the authorization endpoint (implicit or hybrid flow).
    pub fn implicit_or_hybrid(&self) -> bool {
        self.token || self.id_token
    }

    /// Tokens and no code (the implicit flow).
    pub fn implicit(&self) -> bool {
        self.implicit_or_hybrid() && !self.code
    }

    /// `fragment` for the implicit and hybrid flows, `query` otherwise (`OIDCResponseMode`).
    pub fn default_mode(&self) -> &'static str {
        if self.implicit_or_hybrid() {
            "fragment"
        } else {
            "query"
        }
    }
}

/// Where and how to send the answer.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    /// The verified redirect URI.
    pub redirect_uri: String,
    /// `query`, `fragment` or `form_post`.
    pub response_mode: String,
    /// The client's `state`, echoed.
    pub state: Option<String>,
    /// The realm's issuer URL (`iss`).
    pub issuer: String,
    /// Parameters of a successful answer after `session_state` (`kc_action_status`,
    /// `kc_action` of an application-initiated action).
    pub after: Vec<(String, String)>,
}

impl Reply {
    /// The reply to a stored request.
    pub fn to(request: &AuthRequest, issuer: &str) -> Self {
        Reply {
            redirect_uri: request.redirect_uri.clone().unwrap_or_default(),
            response_mode: request
                .response_mode
                .clone()
                .unwrap_or_else(|| "query".into()),
            state: request.state.clone(),
            issuer: issuer.to_string(),
            after: Vec::new(),
        }
    }

    /// Whether cookies are `Secure; SameSite=None`: the issuer is a secure context (HTTPS or a
    /// loopback host).
    pub fn secure(&self) -> bool {
        crate::http::base_url::is_secure_context(&self.issuer)
    }

    /// Sends `params` (an error), then `state` and `iss`.
    pub fn send(&self, params: &[(&str, &str)]) -> Response {
        let mut all: Vec<(&str, &str)> = params.to_vec();
        if let Some(s) = &self.state {
            all.push(("state", s));
        }
        all.push(("iss", &self.issuer));
        self.deliver(&all)
    }

    /// Sends a successful answer in Keycloak's order (`OIDCLoginProtocol.authenticated`):
    /// `state`, `session_state`, `iss`, then `params` (the code, the tokens).
    pub fn send_authenticated(&self, sid: &str, params: &[(&str, &str)]) -> Response {
        let mut all: Vec<(&str, &str)> = Vec::with_capacity(params.len() + 3);
        if let Some(s) = &self.state {
            all.push(("state", s));
        }
        all.push(("session_state", sid));
        all.extend(self.after.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        all.push(("iss", &self.issuer));
        all.extend_from_slice(params);
        self.deliver(&all)
    }

    fn deliver(&self, all: &[(&str, &str)]) -> Response {
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(all.iter())
            .finish();
        match self.response_mode.as_str() {
            "form_post" => {
                let inputs: String = all
                    .iter()
                    .map(|(k, v)| {
                        format!(
                            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                            escape(k),
                            escape(v)
                        )
                    })
                    .collect();
                html(
                    StatusCode::OK,
                    format!(
                        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Submit This Form</title></head>\
                         <body onload=\"document.forms[0].submit()\"><form method=\"post\" action=\"{}\">{inputs}\
                         <noscript><button type=\"submit\">Continue</button></noscript></form></body></html>",
                        escape(&self.redirect_uri)
                    ),
                )
            }
            mode => {
                let sep = if mode == "fragment" {
                    '#'
                } else if self.redirect_uri.contains('?') {
                    '&'
                } else {
                    '?'
                };
                let location = format!("{}{sep}{encoded}", self.redirect_uri);
                let mut r = StatusCode::FOUND.into_response();
                if let Ok(v) = HeaderValue::from_str(&location) {
                    r.headers_mut().insert(header::LOCATION, v);
                }
                r
            }
        }
    }

    /// An error answer (`error`, `error_description`).
    pub fn error(&self, error: &str, description: &str) -> Response {
        self.send(&[("error", error), ("error_description", description)])
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn response_types_parse_as_keycloak() {
        let rt = |s: &str| ResponseType::parse(s);
        let code = rt("code").unwrap();
        assert!(code.code && !code.implicit_or_hybrid());
        assert_eq!(code.default_mode(), "query");
        let implicit = rt("token id_token").unwrap();
        assert_eq!(implicit, rt("id_token token").unwrap(), "order is free");
        assert!(implicit.implicit() && implicit.default_mode() == "fragment");
        let hybrid = rt(" code id_token ").unwrap();
        assert!(hybrid.implicit_or_hybrid() && !hybrid.implicit());
        assert!(rt("token").unwrap().implicit(), "token alone (OAuth2)");
        assert!(rt("none").unwrap().none);
        for bad in [
            "",
            "none code",
            "code  token",
            "code,token",
            "Code",
            "device",
        ] {
            assert!(rt(bad).is_none(), "{bad:?}");
        }
    }
}

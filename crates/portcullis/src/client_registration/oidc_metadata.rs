//! RFC 7591 / 7592 client metadata <-> Keycloak's `ClientRepresentation`, as Keycloak's
//! `clientregistration/oidc/DescriptionConverter` converts them (`toInternal`,
//! `toExternalResponse`).

use serde_json::{json, Map, Value};

use crate::representation::ClientRepresentation;

/// RFC 7591 metadata fields that are one client attribute each, as plain strings, both ways
/// (Keycloak's `DescriptionConverter`).
const STRING_FIELDS: [(&str, &str); 11] = [
    (
        "userinfo_signed_response_alg",
        "user.info.response.signature.alg",
    ),
    ("request_object_signing_alg", "request.object.signature.alg"),
    ("tls_client_auth_subject_dn", "tls.client.auth.subject.dn"),
    (
        "id_token_signed_response_alg",
        "id.token.signed.response.alg",
    ),
    (
        "id_token_encrypted_response_alg",
        "id.token.encrypted.response.alg",
    ),
    (
        "id_token_encrypted_response_enc",
        "id.token.encrypted.response.enc",
    ),
    (
        "authorization_signed_response_alg",
        "authorization.signed.response.alg",
    ),
    (
        "authorization_encrypted_response_alg",
        "authorization.encrypted.response.alg",
    ),
    (
        "authorization_encrypted_response_enc",
        "authorization.encrypted.response.enc",
    ),
    (
        "token_endpoint_auth_signing_alg",
        "token.endpoint.auth.signing.alg",
    ),
    ("backchannel_logout_uri", "backchannel.logout.url"),
];

/// Why metadata cannot be converted (logged; the caller answers Keycloak's
/// `invalid_client_metadata` / "Client metadata invalid").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    v.and_then(Value::as_array).map(|l| {
        l.iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    })
}

/// `OIDCResponseType.parse`: every entry a space-separated set of `code`, `id_token`,
/// `token`, `none`; `none` stands alone and `token` needs a companion. Returns (code, implicit).
fn response_types(list: &[String]) -> Result<(bool, bool), Invalid> {
    let (mut code, mut implicit) = (false, false);
    for entry in list {
        let parts: Vec<&str> = entry.split_whitespace().collect();
        if parts.is_empty() {
            return Err(Invalid("empty response_type".into()));
        }
        for p in &parts {
            match *p {
                "code" => code = true,
                "id_token" | "token" => implicit = true,
                "none" if parts.len() == 1 => {}
                "none" => {
                    return Err(Invalid(
                        "'None' not allowed with some other response_type".into(),
                    ))
                }
                other => return Err(Invalid(format!("Unsupported response_type: {other}"))),
            }
        }
        if parts == ["token"] {
            return Err(Invalid("Not supported OAuth2 implicit flow".into()));
        }
    }
    Ok((code, implicit))
}

/// RFC 7591 `token_endpoint_auth_method` -> Keycloak's client authenticator
/// (`AuthorizeClientUtil.findClientAuthenticatorForOIDCAuthMethod`).
fn authenticator(method: &str) -> Option<&'static str> {
    Some(match method {
        "client_secret_basic" | "client_secret_post" => "client-secret",
        "private_key_jwt" => "client-jwt",
        "client_secret_jwt" => "client-secret-jwt",
        "tls_client_auth" => "client-x509",
        "none" => "none",
        _ => return None,
    })
}

/// The first signing key of a JWK set (`JWKSUtils.getKeyForUse(keySet, SIG)`: `use` absent or `sig`).
fn has_signing_key(jwks: &Value) -> bool {
    jwks.get("keys")
        .and_then(Value::as_array)
        .is_some_and(|keys| {
            keys.iter().any(|k| {
                k.get("use").and_then(Value::as_str).unwrap_or("sig") == "sig"
                    && k.get("kty").and_then(Value::as_str).is_some()
            })
        })
}

/// A string metadata field.
fn text(md: &Map<String, Value>, k: &str) -> Option<String> {
    md.get(k).and_then(Value::as_str).map(str::to_string)
}

/// Client metadata -> a `ClientRepresentation` object (`DescriptionConverter.toInternal`).
pub fn to_internal(md: &Map<String, Value>) -> Result<Map<String, Value>, Invalid> {
    let mut c = Map::new();
    let mut attrs = Map::new();
    names_and_uris(md, &mut c);
    flows(md, &mut c, &mut attrs)?;
    authentication(md, &mut c, &mut attrs)?;
    string_attributes(md, &mut attrs);
    logout_and_par(md, &mut attrs);
    c.insert("attributes".into(), Value::Object(attrs));
    Ok(c)
}

/// `client_id`, `client_name`, `redirect_uris`, `client_uri`, `scope`; the protocol.
fn names_and_uris(md: &Map<String, Value>, c: &mut Map<String, Value>) {
    let s = |k: &str| text(md, k);
    if let Some(id) = s("client_id") {
        c.insert("clientId".into(), json!(id));
    }
    if let Some(n) = s("client_name") {
        c.insert("name".into(), json!(n));
    }
    if let Some(r) = strings(md.get("redirect_uris")) {
        c.insert("redirectUris".into(), json!(r));
    }
    if let Some(u) = s("client_uri") {
        c.insert("baseUrl".into(), json!(u));
    }
    c.insert("protocol".into(), json!("openid-connect"));
    if let Some(scope) = s("scope") {
        let list: Vec<&str> = scope.split(' ').collect();
        c.insert("optionalClientScopes".into(), json!(list));
    }
}

/// `response_types` and `grant_types`: the flows the client may use.
fn flows(
    md: &Map<String, Value>,
    c: &mut Map<String, Value>,
    attrs: &mut Map<String, Value>,
) -> Result<(), Invalid> {
    let rt = strings(md.get("response_types"))
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| vec!["code".to_string()]);
    let (code, implicit) = response_types(&rt)?;
    c.insert("standardFlowEnabled".into(), json!(code));
    c.insert("implicitFlowEnabled".into(), json!(implicit));
    let Some(grants) = strings(md.get("grant_types")) else {
        return Ok(());
    };
    let has = |g: &str| grants.iter().any(|x| x == g);
    c.insert("directAccessGrantsEnabled".into(), json!(has("password")));
    c.insert(
        "serviceAccountsEnabled".into(),
        json!(has("client_credentials")),
    );
    attrs.insert(
        "oidc.ciba.grant.enabled".into(),
        json!(has("urn:openid:params:grant-type:ciba").to_string()),
    );
    // Beyond Keycloak's converter: the device grant is switched on as the admin console does.
    if has("urn:ietf:params:oauth:grant-type:device_code") {
        attrs.insert(
            "oauth2.device.authorization.grant.enabled".into(),
            json!("true"),
        );
    }
    if has("urn:ietf:params:oauth:grant-type:uma-ticket") {
        c.insert("authorizationServicesEnabled".into(), json!(true));
    }
    Ok(())
}

/// `token_endpoint_auth_method` and the client's keys (`jwks_uri` or `jwks`).
fn authentication(
    md: &Map<String, Value>,
    c: &mut Map<String, Value>,
    attrs: &mut Map<String, Value>,
) -> Result<(), Invalid> {
    let method = text(md, "token_endpoint_auth_method");
    c.insert("publicClient".into(), json!(false));
    match method.as_deref() {
        Some("none") => {
            c.insert("clientAuthenticatorType".into(), json!("none"));
            c.insert("publicClient".into(), json!(true));
        }
        Some(m) => {
            let a = authenticator(m).ok_or_else(|| {
                Invalid(
                    "Not found clientAuthenticator for requested token_endpoint_auth_method".into(),
                )
            })?;
            c.insert("clientAuthenticatorType".into(), json!(a));
        }
        None => {
            c.insert("clientAuthenticatorType".into(), json!("client-secret"));
        }
    }
    let key_set = match (md.get("jwks_uri"), md.get("jwks")) {
        (Some(_), Some(_)) => return Err(Invalid("Illegal to use both jwks_uri and jwks".into())),
        (Some(uri), None) => {
            attrs.insert("use.jwks.url".into(), json!("true"));
            attrs.insert("jwks.url".into(), uri.clone());
            true
        }
        // Keycloak keeps the first signing key as a PEM (`jwt.credential.public.key`);
        // Portcullis keeps the set (`jwks.string`), which its client authentication reads.
        (None, Some(jwks)) if has_signing_key(jwks) => {
            attrs.insert("use.jwks.url".into(), json!("false"));
            attrs.insert("use.jwks.string".into(), json!("true"));
            attrs.insert("jwks.string".into(), json!(jwks.to_string()));
            true
        }
        _ => false,
    };
    if method.as_deref() == Some("private_key_jwt") && !key_set {
        return Err(Invalid(
            "Didn't find key of supported keyType for use sig".into(),
        ));
    }
    Ok(())
}

/// The metadata kept as one attribute each: [`STRING_FIELDS`], certificate-bound tokens and
/// the `##`-joined URI lists.
fn string_attributes(md: &Map<String, Value>, attrs: &mut Map<String, Value>) {
    for (field, attr) in STRING_FIELDS {
        if let Some(v) = text(md, field) {
            attrs.insert(attr.into(), json!(v));
        }
    }
    if let Some(b) = md
        .get("tls_client_certificate_bound_access_tokens")
        .and_then(Value::as_bool)
    {
        attrs.insert(
            "tls.client.certificate.bound.access.tokens".into(),
            json!(b.to_string()),
        );
    }
    if let Some(uris) = strings(md.get("request_uris")) {
        attrs.insert("request.uris".into(), json!(uris.join("##")));
    }
    if let Some(uris) = strings(md.get("post_logout_redirect_uris")) {
        attrs.insert("post.logout.redirect.uris".into(), json!(uris.join("##")));
    }
}

/// The back-channel logout flags (with Keycloak's defaults) and pushed authorization requests.
fn logout_and_par(md: &Map<String, Value>, attrs: &mut Map<String, Value>) {
    let flag = |k: &str, default: bool| {
        md.get(k)
            .and_then(Value::as_bool)
            .unwrap_or(default)
            .to_string()
    };
    attrs.insert(
        "backchannel.logout.session.required".into(),
        json!(flag("backchannel_logout_session_required", true)),
    );
    attrs.insert(
        "backchannel.logout.revoke.offline.tokens".into(),
        json!(flag("backchannel_logout_revoke_offline_tokens", false)),
    );
    if let Some(b) = md
        .get("require_pushed_authorization_requests")
        .and_then(Value::as_bool)
    {
        attrs.insert(
            "require.pushed.authorization.requests".into(),
            json!(b.to_string()),
        );
    }
}

fn attr<'a>(c: &'a ClientRepresentation, k: &str) -> Option<&'a str> {
    c.attributes
        .as_ref()
        .and_then(|a| a.get(k))
        .and_then(Value::as_str)
}

/// A client as RFC 7591 §3.2.1 metadata (`DescriptionConverter.toExternalResponse`), with the
/// registration access token (when one was issued) and `registration_client_uri`.
pub fn to_external(c: &ClientRepresentation, token: Option<&str>, uri: &str) -> Value {
    let mut out = Map::new();
    let mut put = |k: &str, v: Value| {
        if !v.is_null() {
            out.insert(k.to_string(), v);
        }
    };
    put("client_id", json!(c.client_id));
    let authenticator = c
        .client_authenticator_type
        .as_deref()
        .unwrap_or("client-secret");
    let public = c.public_client == Some(true);
    let method = match authenticator {
        _ if public => "none",
        "none" => "none",
        "client-jwt" => "private_key_jwt",
        "client-secret-jwt" => "client_secret_jwt",
        "client-x509" => "tls_client_auth",
        _ => "client_secret_basic",
    };
    put("token_endpoint_auth_method", json!(method));
    if authenticator == "client-secret" && !public {
        put("client_secret", json!(c.secret));
        put("client_secret_expires_at", json!(0));
    }
    put("client_name", json!(c.name));
    put("client_uri", json!(c.base_url));
    put(
        "redirect_uris",
        json!(c.redirect_uris.clone().unwrap_or_default()),
    );
    put("registration_access_token", json!(token));
    put("registration_client_uri", json!(uri));

    let code = c.standard_flow_enabled != Some(false);
    let implicit = c.implicit_flow_enabled == Some(true);
    let mut rt: Vec<&str> = Vec::new();
    if code {
        rt.extend(["code", "none"]);
    }
    if implicit {
        rt.extend(["id_token", "id_token token"]);
    }
    if code && implicit {
        rt.extend(["code id_token", "code token", "code id_token token"]);
    }
    put("response_types", json!(rt));
    let mut gt: Vec<&str> = Vec::new();
    if code {
        gt.push("authorization_code");
    }
    if implicit {
        gt.push("implicit");
    }
    if c.direct_access_grants_enabled == Some(true) {
        gt.push("password");
    }
    if c.service_accounts_enabled == Some(true) {
        gt.push("client_credentials");
    }
    if attr(c, "oauth2.device.authorization.grant.enabled") == Some("true") {
        gt.push("urn:ietf:params:oauth:grant-type:device_code");
    }
    if attr(c, "oidc.ciba.grant.enabled") == Some("true") {
        gt.push("urn:openid:params:grant-type:ciba");
    }
    if c.extra.get("authorizationServicesEnabled") == Some(&Value::Bool(true)) {
        gt.push("urn:ietf:params:oauth:grant-type:uma-ticket");
    }
    if attr(c, "use.refresh.tokens") != Some("false") {
        gt.push("refresh_token");
    }
    put("grant_types", json!(gt));
    if let Some(scopes) = &c.optional_client_scopes {
        put("scope", json!(scopes.join(" ")));
    }
    if attr(c, "use.jwks.url") == Some("true") {
        put("jwks_uri", json!(attr(c, "jwks.url")));
    }
    put(
        "tls_client_certificate_bound_access_tokens",
        json!(attr(c, "tls.client.certificate.bound.access.tokens") == Some("true")),
    );
    for (field, a) in STRING_FIELDS {
        if let Some(v) = attr(c, a).filter(|v| !v.is_empty()) {
            put(field, json!(v));
        }
    }
    if let Some(u) = attr(c, "request.uris").filter(|v| !v.is_empty()) {
        put("request_uris", json!(u.split("##").collect::<Vec<_>>()));
    }
    if let Some(u) = attr(c, "post.logout.redirect.uris").filter(|v| !v.is_empty() && *v != "+") {
        put(
            "post_logout_redirect_uris",
            json!(u.split("##").collect::<Vec<_>>()),
        );
    }
    // Keycloak writes `backchannel_logout_session_required` twice, the second time with the
    // revoke-offline-tokens flag (DescriptionConverter.toExternalResponse); so do we.
    put(
        "backchannel_logout_session_required",
        json!(attr(c, "backchannel.logout.revoke.offline.tokens") == Some("true")),
    );
    if c.attributes.is_some() {
        put(
            "require_pushed_authorization_requests",
            json!(attr(c, "require.pushed.authorization.requests") == Some("true")),
        );
    }
    put("subject_type", json!("public"));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn md(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_public_spa_becomes_a_public_standard_flow_client() {
        let c = to_internal(&md(json!({
            "client_name": "My SPA",
            "redirect_uris": ["https://spa.example.com/cb"],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "scope": "address phone"
        })))
        .unwrap();
        assert_eq!(c["name"], json!("My SPA"));
        assert_eq!(c["publicClient"], json!(true));
        assert_eq!(c["clientAuthenticatorType"], json!("none"));
        assert_eq!(c["standardFlowEnabled"], json!(true));
        assert_eq!(c["implicitFlowEnabled"], json!(false));
        assert_eq!(c["directAccessGrantsEnabled"], json!(false));
        assert_eq!(c["serviceAccountsEnabled"], json!(false));
        assert_eq!(c["optionalClientScopes"], json!(["address", "phone"]));
        assert!(c.get("clientId").is_none());

        let rep: ClientRepresentation = serde_json::from_value(Value::Object(c)).unwrap();
        let out = to_external(
            &rep,
            Some("tok"),
            "https://kc/realms/r/clients-registrations/openid-connect/x",
        );
        assert_eq!(out["token_endpoint_auth_method"], json!("none"));
        assert!(out.get("client_secret").is_none());
        assert_eq!(out["response_types"], json!(["code", "none"]));
        assert_eq!(
            out["grant_types"],
            json!(["authorization_code", "refresh_token"])
        );
        assert_eq!(out["registration_access_token"], json!("tok"));
        assert_eq!(out["scope"], json!("address phone"));
    }

    #[test]
    fn confidential_clients_keys_and_errors() {
        let c = to_internal(&md(
            json!({"grant_types": ["client_credentials"], "response_types": ["code id_token"]}),
        ))
        .unwrap();
        assert_eq!(c["clientAuthenticatorType"], json!("client-secret"));
        assert_eq!(c["publicClient"], json!(false));
        assert_eq!(c["serviceAccountsEnabled"], json!(true));
        assert_eq!(c["implicitFlowEnabled"], json!(true));
        let mut rep: ClientRepresentation = serde_json::from_value(Value::Object(c)).unwrap();
        rep.secret = Some("s3".into());
        let out = to_external(&rep, None, "u");
        assert_eq!(out["client_secret"], json!("s3"));
        assert_eq!(out["client_secret_expires_at"], json!(0));
        assert_eq!(
            out["token_endpoint_auth_method"],
            json!("client_secret_basic")
        );
        assert!(out["grant_types"]
            .as_array()
            .unwrap()
            .contains(&json!("client_credentials")));
        assert!(out.get("registration_access_token").is_none());

        let jwks =
            json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "kid": "k1"}]});
        let c = to_internal(&md(
            json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": jwks}),
        ))
        .unwrap();
        assert_eq!(c["clientAuthenticatorType"], json!("client-jwt"));
        assert_eq!(c["attributes"]["use.jwks.string"], json!("true"));
        let c = to_internal(&md(json!({"jwks_uri": "https://app/jwks"}))).unwrap();
        assert_eq!(c["attributes"]["jwks.url"], json!("https://app/jwks"));

        for bad in [
            json!({"token_endpoint_auth_method": "magic"}),
            json!({"jwks_uri": "https://a", "jwks": {"keys": []}}),
            json!({"token_endpoint_auth_method": "private_key_jwt"}),
            json!({"response_types": ["token"]}),
            json!({"response_types": ["code none"]}),
            json!({"response_types": ["device"]}),
        ] {
            assert!(to_internal(&md(bad.clone())).is_err(), "{bad}");
        }
    }

    #[test]
    fn device_grant_is_kept() {
        let c = to_internal(&md(
            json!({"token_endpoint_auth_method": "none", "response_types": ["none"],
            "grant_types": ["urn:ietf:params:oauth:grant-type:device_code"]}),
        ))
        .unwrap();
        assert_eq!(c["standardFlowEnabled"], json!(false));
        let rep: ClientRepresentation = serde_json::from_value(Value::Object(c)).unwrap();
        let out = to_external(&rep, None, "u");
        assert_eq!(
            out["grant_types"],
            json!([
                "urn:ietf:params:oauth:grant-type:device_code",
                "refresh_token"
            ])
        );
    }
}

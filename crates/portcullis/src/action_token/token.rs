//! Keycloak's action tokens as JWTs: minted and checked here, without I/O.
//!
//! As Keycloak (`DefaultActionToken`, `DefaultActionTokenKey`, `ExecuteActionsActionToken`,
//! `VerifyEmailActionToken`, `InviteOrgActionToken`): signed with the realm's HMAC key
//! (`hmac-generated`, HS512, token category INTERNAL), header `typ` `JWT`; claims `exp`, `iat`,
//! `jti`, `iss` = `aud` = the realm's issuer, `sub` = the user, `typ` = the token type,
//! `nonce`, `azp` = the client, `eml` = the user's e-mail when minted; `rqac` (the required
//! actions) and `reduri` for `execute-actions`, `reduri` for `verify-email`, `org_id` and
//! `reduri` for `ORGIVT`; `asid` (the pending reset flow) for `reset-credentials`
//! (`ResetCredentialsActionToken`); `idpa` (the identity provider's alias), `idpu` (the user
//! name at the provider), `asid` (the pending first broker login) and, where set, `oasid` for
//! `idp-verify-account-via-email` (`IdpVerifyAccountLinkActionToken`).

use serde_json::{json, Map, Value};

use crate::crypto::jws::{self, HmacKey};
use crate::http::paths;
use crate::realm::snapshot::RealmSnapshot;

/// `ExecuteActionsActionToken.TOKEN_TYPE`.
pub const EXECUTE_ACTIONS: &str = "execute-actions";
/// `VerifyEmailActionToken.TOKEN_TYPE`.
pub const VERIFY_EMAIL: &str = "verify-email";
/// `InviteOrgActionToken.TOKEN_TYPE`.
pub const ORG_INVITE: &str = "ORGIVT";
/// `ResetCredentialsActionToken.TOKEN_TYPE`.
pub const RESET_CREDENTIALS: &str = "reset-credentials";
/// `UpdateEmailActionToken.TOKEN_TYPE`.
pub const UPDATE_EMAIL: &str = "update-email";
/// `IdpVerifyAccountLinkActionToken.TOKEN_TYPE`.
pub const IDP_VERIFY_ACCOUNT: &str = "idp-verify-account-via-email";

/// The kind of an action token and what only that kind carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `execute-actions`: the required actions to perform (`rqac`).
    ExecuteActions(Vec<String>),
    /// `verify-email`.
    VerifyEmail,
    /// `ORGIVT`: the organization (`org_id`).
    OrgInvite(String),
    /// `reset-credentials`: the mail of the "Forgot password?" flow.
    ResetCredentials,
    /// `update-email`: the user's address when the mail was sent (`oldEmail`, which must
    /// still be the user's) and the address to set (`newEmail`). No `eml`.
    UpdateEmail {
        /// `oldEmail`.
        old_email: Option<String>,
        /// `newEmail`.
        new_email: String,
    },
    /// `idp-verify-account-via-email`: the mail of the first broker login's
    /// `idp-email-verification` step, which proves the existing user's address so that the
    /// brokered identity may be linked to them.
    IdpVerifyAccount {
        /// `idpa`: the identity provider's alias.
        alias: String,
        /// `idpu`: the user name at the provider.
        idp_username: String,
        /// `oasid`: the original authentication session (Keycloak sets it on the link it
        /// re-issues in another browser; kept here so that such tokens parse).
        original_auth_session: Option<String>,
    },
}

impl Kind {
    /// The `typ` claim.
    pub fn typ(&self) -> &'static str {
        match self {
            Kind::ExecuteActions(_) => EXECUTE_ACTIONS,
            Kind::VerifyEmail => VERIFY_EMAIL,
            Kind::OrgInvite(_) => ORG_INVITE,
            Kind::ResetCredentials => RESET_CREDENTIALS,
            Kind::UpdateEmail { .. } => UPDATE_EMAIL,
            Kind::IdpVerifyAccount { .. } => IDP_VERIFY_ACCOUNT,
        }
    }
}

/// An action token's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionToken {
    /// `sub`: the user (absent for the invitation of someone who has no account yet).
    pub user_id: Option<String>,
    /// `typ` and its claims.
    pub kind: Kind,
    /// `exp` (seconds).
    pub exp: i64,
    /// `iat` (seconds).
    pub iat: i64,
    /// `nonce` (also `jti`, unless an invitation id is given).
    pub nonce: String,
    /// `jti`.
    pub jti: String,
    /// `azp`: the client the link is for.
    pub client_id: String,
    /// `eml`: the user's e-mail when the token was minted.
    pub email: Option<String>,
    /// `reduri`.
    pub redirect_uri: Option<String>,
    /// `asid`: the pending flow the token continues (Keycloak's compound authentication
    /// session id; here the key of the stored reset flow).
    pub auth_session: Option<String>,
}

impl ActionToken {
    /// A token of `kind` for `user_id` from `now` to `exp`, with a fresh nonce.
    pub fn new(kind: Kind, user_id: Option<&str>, client_id: &str, now: i64, exp: i64) -> Self {
        let nonce = uuid::Uuid::new_v4().to_string();
        ActionToken {
            user_id: user_id.map(str::to_string),
            kind,
            exp,
            iat: now,
            jti: nonce.clone(),
            nonce,
            client_id: client_id.to_string(),
            email: None,
            redirect_uri: None,
            auth_session: None,
        }
    }

    /// The key under which a used token is remembered (`SingleUseObjectKeyModel`:
    /// `{b64(userId)}.{exp}.{nonce}.{typ}`), namespaced by the realm.
    pub fn single_use_key(&self, realm_id: &str) -> String {
        use base64::Engine;
        let user = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(self.user_id.as_deref().unwrap_or_default());
        format!(
            "action-token:{realm_id}:{user}.{}.{}.{}",
            self.exp,
            self.nonce,
            self.kind.typ()
        )
    }

    fn claims(&self, issuer: &str) -> Value {
        let mut c = json!({
            "exp": self.exp,
            "iat": self.iat,
            "jti": self.jti,
            "iss": issuer,
            "aud": issuer,
            "typ": self.kind.typ(),
            "azp": self.client_id,
            "nonce": self.nonce,
        });
        let Some(o) = c.as_object_mut() else {
            return c;
        };
        if let Some(u) = &self.user_id {
            o.insert("sub".into(), json!(u));
        }
        if let Some(e) = &self.email {
            o.insert("eml".into(), json!(e));
        }
        match &self.kind {
            Kind::ExecuteActions(a) => {
                o.insert("rqac".into(), json!(a));
            }
            Kind::VerifyEmail | Kind::ResetCredentials => {}
            Kind::OrgInvite(org) => {
                o.insert("org_id".into(), json!(org));
            }
            Kind::UpdateEmail {
                old_email,
                new_email,
            } => {
                if let Some(old) = old_email {
                    o.insert("oldEmail".into(), json!(old));
                }
                o.insert("newEmail".into(), json!(new_email));
            }
            Kind::IdpVerifyAccount {
                alias,
                idp_username,
                original_auth_session,
            } => {
                o.insert("idpa".into(), json!(alias));
                o.insert("idpu".into(), json!(idp_username));
                if let Some(oasid) = original_auth_session {
                    o.insert("oasid".into(), json!(oasid));
                }
            }
        }
        if let Some(r) = &self.redirect_uri {
            o.insert("reduri".into(), json!(r));
        }
        if let Some(a) = &self.auth_session {
            o.insert("asid".into(), json!(a));
        }
        c
    }

    /// The signed token.
    pub fn sign(&self, key: &HmacKey, issuer: &str) -> String {
        jws::sign_hmac(key, "JWT", &self.claims(issuer))
    }
}

/// Why a token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Malformed, forged, of another realm or of an unknown type: Keycloak's
    /// `invalidCodeMessage`.
    Invalid,
    /// Past `exp`: `expiredActionTokenNoSessionMessage`.
    Expired,
}

fn str_claim(c: &Map<String, Value>, k: &str) -> Option<String> {
    c.get(k).and_then(Value::as_str).map(str::to_string)
}

/// Checks a token's signature (the realm's HMAC keys), issuer and audience, type and `exp`.
pub fn verify(
    keys: &[HmacKey],
    issuer: &str,
    token: &str,
    now: i64,
) -> Result<ActionToken, Refused> {
    let parsed = jws::parse(token).map_err(|_| Refused::Invalid)?;
    parsed.verify_hmac(keys).map_err(|_| Refused::Invalid)?;
    let c = &parsed.claims;
    if str_claim(c, "iss").as_deref() != Some(issuer) {
        return Err(Refused::Invalid);
    }
    let aud_ok = match c.get("aud") {
        Some(Value::String(a)) => a == issuer,
        Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(issuer)),
        _ => false,
    };
    if !aud_ok {
        return Err(Refused::Invalid);
    }
    let kind = match str_claim(c, "typ").as_deref() {
        Some(EXECUTE_ACTIONS) => Kind::ExecuteActions(
            c.get("rqac")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        ),
        Some(VERIFY_EMAIL) => Kind::VerifyEmail,
        Some(ORG_INVITE) => Kind::OrgInvite(str_claim(c, "org_id").ok_or(Refused::Invalid)?),
        Some(RESET_CREDENTIALS) => Kind::ResetCredentials,
        Some(UPDATE_EMAIL) => Kind::UpdateEmail {
            old_email: str_claim(c, "oldEmail"),
            new_email: str_claim(c, "newEmail").ok_or(Refused::Invalid)?,
        },
        Some(IDP_VERIFY_ACCOUNT) => Kind::IdpVerifyAccount {
            alias: str_claim(c, "idpa").ok_or(Refused::Invalid)?,
            idp_username: str_claim(c, "idpu").ok_or(Refused::Invalid)?,
            original_auth_session: str_claim(c, "oasid"),
        },
        _ => return Err(Refused::Invalid),
    };
    let exp = c
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or(Refused::Invalid)?;
    let nonce = str_claim(c, "nonce").ok_or(Refused::Invalid)?;
    if exp <= now {
        return Err(Refused::Expired);
    }
    Ok(ActionToken {
        user_id: str_claim(c, "sub"),
        kind,
        exp,
        iat: c.get("iat").and_then(Value::as_i64).unwrap_or_default(),
        jti: str_claim(c, "jti").unwrap_or_else(|| nonce.clone()),
        nonce,
        client_id: str_claim(c, "azp").unwrap_or_default(),
        email: str_claim(c, "eml"),
        redirect_uri: str_claim(c, "reduri"),
        auth_session: str_claim(c, "asid"),
    })
}

/// Keycloak's `invalidCodeMessage`.
pub const INVALID_CODE: &str = "An error occurred, please login again through your application.";
/// Keycloak's `expiredActionTokenNoSessionMessage`.
pub const EXPIRED: &str = "Action expired.";
/// Keycloak's `staleInviteOrgLink`.
pub const STALE_INVITE: &str =
    "The invitation is no longer valid. Contact the organization administrators for more information.";
/// Keycloak's `staleEmailVerificationLink` (`Messages.STALE_VERIFY_EMAIL_LINK`).
pub const STALE_VERIFY_EMAIL: &str =
    "The link you clicked is an old stale link and is no longer valid.  Maybe you have already verified your email.";
/// Keycloak's `accountDisabledMessage`.
pub const ACCOUNT_DISABLED: &str = "Account is disabled, contact your administrator.";
/// Keycloak's `invalidUserMessage` (`LoginActionsServiceChecks.checkIsUserValid`: the token's
/// user does not exist).
pub const INVALID_USER: &str = "Invalid username or password.";
/// Keycloak's `staleCodeMessage` (the default error of `IdpVerifyAccountLinkActionTokenHandler`,
/// its `verifyEmail` check: the user's e-mail is no longer the token's).
pub const STALE_CODE: &str =
    "This page is no longer valid, please go back to your application and sign in again";
/// Keycloak's `emailVerifiedAlreadyMessage` (`sendEmailAlreadyVerified`: the link was used,
/// or the login it belongs to is gone).
pub const EMAIL_VERIFIED_ALREADY: &str = "Your email address has been verified already.";

/// `actionTokenGeneratedByAdminLifespan` (default 12 hours).
pub fn admin_lifespan(snap: &RealmSnapshot) -> i64 {
    snap.rep
        .extra
        .get("actionTokenGeneratedByAdminLifespan")
        .and_then(serde_json::Value::as_i64)
        .unwrap_or(43_200)
}

/// `actionTokenGeneratedByUserLifespan` for a token type: the realm attribute
/// `actionTokenGeneratedByUserLifespan.<typ>`, else the realm's value, else
/// `accessCodeLifespanUserAction` (300).
pub fn user_lifespan(snap: &RealmSnapshot, typ: &str) -> i64 {
    let per_type = snap
        .rep
        .extra
        .get("attributes")
        .and_then(|a| a.get(format!("actionTokenGeneratedByUserLifespan.{typ}")))
        .and_then(|v| match v {
            serde_json::Value::String(s) => s.parse().ok(),
            other => other.as_i64(),
        });
    per_type
        .or_else(|| {
            snap.rep
                .extra
                .get("actionTokenGeneratedByUserLifespan")
                .and_then(serde_json::Value::as_i64)
        })
        .or_else(|| {
            snap.rep
                .extra
                .get("accessCodeLifespanUserAction")
                .and_then(serde_json::Value::as_i64)
        })
        .unwrap_or(300)
}

/// The link of a token: `{base}/realms/{realm}/login-actions/action-token?key=...`.
pub fn link(base: &str, snap: &RealmSnapshot, token: &str) -> String {
    let mut u = paths::url(base, paths::ACTION_TOKEN, &snap.name);
    u.push_str("?key=");
    u.push_str(token);
    u
}

/// The account console of the realm (`{base}/realms/{realm}/account/`), where links without a
/// redirect end.
pub fn account_url(base: &str, snap: &RealmSnapshot) -> String {
    format!("{}/", paths::url(base, paths::ACCOUNT, &snap.name))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn key(secret: &str) -> HmacKey {
        use base64::Engine;
        let b = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret.repeat(8));
        HmacKey::new("kid-1".into(), "HS512", &b).unwrap()
    }

    const ISS: &str = "http://localhost/realms/r";

    fn token() -> ActionToken {
        let mut t = ActionToken::new(
            Kind::ExecuteActions(vec!["UPDATE_PASSWORD".into()]),
            Some("u1"),
            "account",
            1000,
            2000,
        );
        t.email = Some("a@b.c".into());
        t.redirect_uri = Some("https://app/cb".into());
        t
    }

    #[test]
    fn round_trip_with_keycloak_claims() {
        let k = key("secret");
        let t = token();
        let jwt = t.sign(&k, ISS);
        let parsed = jws::parse(&jwt).unwrap();
        assert_eq!(parsed.header["alg"], "HS512");
        assert_eq!(parsed.header["typ"], "JWT");
        assert_eq!(parsed.claims["typ"], "execute-actions");
        assert_eq!(parsed.claims["rqac"], json!(["UPDATE_PASSWORD"]));
        assert_eq!(parsed.claims["reduri"], "https://app/cb");
        assert_eq!(parsed.claims["eml"], "a@b.c");
        assert_eq!(parsed.claims["aud"], ISS);
        assert_eq!(verify(&[k], ISS, &jwt, 1500), Ok(t));
    }

    #[test]
    fn refuses_expired_forged_and_foreign_tokens() {
        let k = key("secret");
        let jwt = token().sign(&k, ISS);
        assert_eq!(
            verify(std::slice::from_ref(&k), ISS, &jwt, 2000),
            Err(Refused::Expired)
        );
        assert_eq!(
            verify(&[key("other")], ISS, &jwt, 1500),
            Err(Refused::Invalid)
        );
        assert_eq!(
            verify(
                std::slice::from_ref(&k),
                "http://localhost/realms/other",
                &jwt,
                1500
            ),
            Err(Refused::Invalid)
        );
        assert_eq!(
            verify(std::slice::from_ref(&k), ISS, "a.b.c", 1500),
            Err(Refused::Invalid)
        );
        let mut tampered = jwt.clone();
        tampered.insert(jwt.find('.').unwrap() + 3, 'x');
        assert_eq!(verify(&[k], ISS, &tampered, 1500), Err(Refused::Invalid));
    }

    #[test]
    fn reset_credentials_tokens_carry_the_flow() {
        let k = key("secret");
        let mut t = ActionToken::new(Kind::ResetCredentials, Some("u1"), "app", 1, 100);
        t.email = Some("a@b.c".into());
        t.auth_session = Some("flow-key".into());
        let jwt = t.sign(&k, ISS);
        assert_eq!(jws::parse(&jwt).unwrap().claims["typ"], "reset-credentials");
        assert_eq!(jws::parse(&jwt).unwrap().claims["asid"], "flow-key");
        assert_eq!(verify(&[k], ISS, &jwt, 50), Ok(t));
    }

    #[test]
    fn idp_link_tokens_carry_the_provider_and_the_login() {
        let k = key("secret");
        let mut t = ActionToken::new(
            Kind::IdpVerifyAccount {
                alias: "up".into(),
                idp_username: "dave".into(),
                original_auth_session: None,
            },
            Some("u1"),
            "app",
            1,
            100,
        );
        t.email = Some("taken@example.com".into());
        t.auth_session = Some("pointer".into());
        let jwt = t.sign(&k, ISS);
        let c = jws::parse(&jwt).unwrap().claims;
        assert_eq!(c["typ"], "idp-verify-account-via-email");
        assert_eq!(c["idpa"], "up");
        assert_eq!(c["idpu"], "dave");
        assert_eq!(c["asid"], "pointer");
        assert_eq!(c["eml"], "taken@example.com");
        assert!(c.get("oasid").is_none());
        assert_eq!(
            verify(std::slice::from_ref(&k), ISS, &jwt, 50),
            Ok(t.clone())
        );
        assert!(t
            .single_use_key("rid")
            .ends_with(".idp-verify-account-via-email"));
        // Without the provider's claims: not a token of that type.
        let mut bare = t.claims(ISS);
        bare.as_object_mut().unwrap().remove("idpa");
        let forged = jws::sign_hmac(&k, "JWT", &bare);
        assert_eq!(verify(&[k], ISS, &forged, 50), Err(Refused::Invalid));
    }

    #[test]
    fn invitation_tokens_carry_the_organization() {
        let k = key("secret");
        let t = ActionToken::new(Kind::OrgInvite("org-1".into()), None, "account", 1, 100);
        let back = verify(std::slice::from_ref(&k), ISS, &t.sign(&k, ISS), 50).unwrap();
        assert_eq!(back.kind, Kind::OrgInvite("org-1".into()));
        assert_eq!(back.user_id, None);
        assert!(t.single_use_key("rid").ends_with(".ORGIVT"));
    }
}

//! Tenant ids (slugs), realm names and the tenant a token belongs to.
//!
//! The tenant id is the slug (`demo`); its realm is `tenant-<slug>` (`tenant-demo`). A slug is a
//! DNS label in lower case (`a-z`, `0-9`, inner `-`, at most 63 characters), so `tenant-<slug>`
//! is always a valid realm name, a valid URL path segment without escaping, and a valid
//! hostname label if tenants ever get their own subdomain.

/// The prefix every tenant realm carries; the guard trusts `<base>/realms/tenant-*` only.
pub const REALM_PREFIX: &str = "tenant-";

/// Longest slug (a DNS label).
pub const MAX_SLUG_LEN: usize = 63;

/// Checks a tenant slug; the error says what is wrong with it.
pub fn validate_slug(slug: &str) -> Result<(), String> {
    if slug.is_empty() {
        return Err("slug must not be empty".into());
    }
    if slug.len() > MAX_SLUG_LEN {
        return Err(format!("slug must be at most {MAX_SLUG_LEN} characters"));
    }
    if let Some(c) = slug
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!(
            "slug may only hold lower-case letters, digits and '-' (found {c:?})"
        ));
    }
    if slug.starts_with('-') || slug.ends_with('-') {
        return Err("slug must not start or end with '-'".into());
    }
    Ok(())
}

/// Checks a department name (the last segment of the group `/departments/<dept>` and the value of
/// the `department_id` attribute): same rules as a slug.
pub fn validate_department(dept: &str) -> Result<(), String> {
    validate_slug(dept).map_err(|e| {
        format!(
            "department {dept:?}: {}",
            e.replacen("slug", "a department id", 1)
        )
    })
}

/// The realm of a tenant: `tenant-<slug>`.
pub fn realm_of(slug: &str) -> String {
    format!("{REALM_PREFIX}{slug}")
}

/// The tenant a realm belongs to: the slug of a `tenant-<slug>` realm, `None` for any other realm
/// (the `platform` realm of operators, for instance).
pub fn tenant_of_realm(realm: &str) -> Option<&str> {
    realm
        .strip_prefix(REALM_PREFIX)
        .filter(|s| validate_slug(s).is_ok())
}

/// The `X-Tenant-Id` rule: a request may name a tenant, but only the one its token's issuer
/// belongs to. No header passes (the tenant comes from the issuer anyway); a header with a
/// token of no tenant (an operator of the `platform` realm) or of another tenant is refused.
pub fn check_tenant_header(token_tenant: Option<&str>, header: Option<&str>) -> Result<(), String> {
    match (header, token_tenant) {
        (None, _) => Ok(()),
        (Some(h), Some(t)) if h == t => Ok(()),
        (Some(h), Some(t)) => Err(format!(
            "X-Tenant-Id {h:?} does not match the tenant of the token's issuer ({t:?})"
        )),
        (Some(h), None) => Err(format!(
            "X-Tenant-Id {h:?} was sent with a token that belongs to no tenant"
        )),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        for ok in ["demo", "a", "nasa-2", "0", &"a".repeat(63)] {
            assert!(validate_slug(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Demo",
            "-a",
            "a-",
            "a_b",
            "a/b",
            "a b",
            "é",
            "a.b",
            &"a".repeat(64),
        ] {
            assert!(validate_slug(bad).is_err(), "{bad}");
        }
        assert!(validate_slug("a/b").unwrap_err().contains("'/'"));
    }

    #[test]
    fn realms_and_tenants() {
        assert_eq!(realm_of("demo"), "tenant-demo");
        assert_eq!(tenant_of_realm("tenant-demo"), Some("demo"));
        assert_eq!(tenant_of_realm("platform"), None);
        assert_eq!(tenant_of_realm("tenant-"), None);
        assert_eq!(tenant_of_realm("tenant-Bad"), None);
    }

    #[test]
    fn tenant_header() {
        assert!(check_tenant_header(Some("a"), None).is_ok());
        assert!(check_tenant_header(None, None).is_ok());
        assert!(check_tenant_header(Some("a"), Some("a")).is_ok());
        assert!(check_tenant_header(Some("a"), Some("b")).is_err());
        assert!(check_tenant_header(Some("a"), Some("tenant-a")).is_err());
        assert!(check_tenant_header(None, Some("a")).is_err());
    }
}

//! The policy types: what each one decides about an [`Identity`], as Keycloak's
//! `*PolicyProvider` classes (`authz/policy/common/src/main/java/org/keycloak/authorization/
//! policy/provider/`). A rule answers whether the policy *grants*; the policy's `logic` and
//! the combination with other policies are [`super::evaluate`]'s.

use regex::Regex;
use serde_json::Value;

use super::Identity;

/// A compiled policy rule.
#[derive(Debug, Clone)]
pub(crate) enum Rule {
    /// `role`: `roles` ids with `required`, and `fetchRoles`.
    Role {
        roles: Vec<(String, bool)>,
        fetch_roles: bool,
    },
    /// `user`: user ids.
    User(Vec<String>),
    /// `group`: group ids with `extendChildren`, and `groupsClaim`.
    Group {
        groups: Vec<(String, bool)>,
        claim: Option<String>,
    },
    /// `client`: client UUIDs.
    Client(Vec<String>),
    /// `client-scope`: client-scope ids with `required`.
    ClientScope(Vec<(String, bool)>),
    /// `regex`.
    Regex {
        claim: String,
        pattern: Regex,
        context: bool,
    },
    /// `time`.
    Time(TimeRule),
    /// `js` with Keycloak's default code (`$evaluation.grant();`).
    GrantAll,
    /// `aggregate`: its associated policies decide.
    Aggregate,
    /// A `resource` permission.
    ResourcePermission,
    /// A `scope` permission.
    ScopePermission,
}

impl Rule {
    /// `true` for the two permission types.
    pub fn is_permission(&self) -> bool {
        matches!(self, Rule::ResourcePermission | Rule::ScopePermission)
    }

    /// Whether a leaf rule grants (aggregates and permissions are decided by their
    /// associated policies, see `evaluate`).
    pub fn grants(&self, identity: &Identity) -> bool {
        match self {
            Rule::Role { roles, fetch_roles } => role(identity, roles, *fetch_roles),
            // UserPolicyProvider: the identity's id is one of the users.
            Rule::User(users) => users.contains(&identity.id),
            Rule::Group { groups, claim } => group(identity, groups, claim.as_deref()),
            // ClientPolicyProvider: `kc.client.id` (the token's `azp`) is one of the clients.
            Rule::Client(clients) => identity
                .client
                .as_ref()
                .is_some_and(|c| clients.iter().any(|x| x == c)),
            Rule::ClientScope(scopes) => client_scope(identity, scopes),
            Rule::Regex {
                claim,
                pattern,
                context,
            } => regex(identity, claim, pattern, *context),
            Rule::Time(t) => t.grants(identity.time),
            Rule::GrantAll => true,
            Rule::Aggregate | Rule::ResourcePermission | Rule::ScopePermission => false,
        }
    }
}

/// RolePolicyProvider: a required role not held denies; otherwise one role held grants.
/// Without `fetchRoles` the roles are the token's; with it, the user's (composites expanded).
/// Keycloak skips a role that no longer exists; here a deleted role is simply not held.
fn role(identity: &Identity, roles: &[(String, bool)], fetch: bool) -> bool {
    let held = |id: &str| {
        if fetch {
            identity
                .user_role_ids
                .as_ref()
                .is_some_and(|r| r.contains(id))
        } else {
            identity.token_role_ids.contains(id)
        }
    };
    let mut any = false;
    for (id, required) in roles {
        let has = held(id);
        if !has && *required {
            return false;
        }
        any |= has;
    }
    any
}

/// GroupPolicyProvider (Keycloak 26): the user must be a member of the group (directly, or
/// of a descendant with `extendChildren`) *and* the groups claim (the `groupsClaim` claim of
/// the token, or the user's group paths when absent) must name it, by path, by a descendant's
/// path with `extendChildren`, or by name.
fn group(identity: &Identity, groups: &[(String, bool)], claim: Option<&str>) -> bool {
    if identity.id.is_empty() {
        return false;
    }
    let claimed: Vec<String> = match claim.and_then(|c| identity.claims.get(c)) {
        Some(v) if !claim_values(v).is_empty() => claim_values(v),
        _ => identity.groups.iter().map(|g| g.path.clone()).collect(),
    };
    for (id, extend) in groups {
        let direct = identity.groups.iter().find(|g| g.id == *id);
        let allowed = match (direct, extend) {
            (Some(g), _) => g,
            (None, false) => continue,
            (None, true) => match identity.ancestor_groups.iter().find(|g| g.id == *id) {
                Some(g) => g,
                None => continue,
            },
        };
        let prefix = format!("{}/", allowed.path);
        for value in &claimed {
            if value.contains('/')
                && (*value == allowed.path || (*extend && value.starts_with(&prefix)))
            {
                return true;
            }
            if *value == allowed.name {
                return true;
            }
        }
    }
    false
}

/// ClientScopePolicyProvider: like the role policy, over the token's `scope` claim.
fn client_scope(identity: &Identity, scopes: &[(String, bool)]) -> bool {
    let mut any = false;
    for (id, required) in scopes {
        let has = identity.client_scope_ids.contains(id);
        if !has && *required {
            return false;
        }
        any |= has;
    }
    any
}

/// RegexPolicyProvider: the pattern must match a value of the target claim as a whole
/// (`Matcher.matches()`). A dotted claim (`address.country`, `\.` escapes a dot) is a path
/// into a JSON claim; `targetContextAttributes` reads the context attributes instead.
fn regex(identity: &Identity, claim: &str, pattern: &Regex, context: bool) -> bool {
    let values: Vec<String> = if context {
        identity.context.get(claim).cloned().unwrap_or_default()
    } else {
        let path = split_claim_path(claim);
        if path.len() > 1 {
            let mut node = identity.claims.get(&path[0]);
            for p in &path[1..] {
                node = node.and_then(|n| n.get(p.as_str()));
            }
            match node {
                None | Some(Value::Null) => Vec::new(),
                Some(v) => vec![java_string(v)],
            }
        } else {
            identity
                .claims
                .get(claim)
                .map(claim_values)
                .unwrap_or_default()
        }
    };
    values.iter().any(|v| pattern.is_match(v))
}

/// A claim's values as `KeycloakIdentity`'s attributes hold them: each element of an array,
/// otherwise the value itself as text.
fn claim_values(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a.iter().map(java_string).collect(),
        Value::Null => Vec::new(),
        other => vec![java_string(other)],
    }
}

fn java_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        // Java's List.toString: `[a, b]`.
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(java_string).collect::<Vec<_>>().join(", ")
        ),
        other => other.to_string(),
    }
}

/// `JsonUtils.splitClaimPath`: dots separate, `\.` is a literal dot.
fn split_claim_path(claim: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = claim.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'.') => {
                chars.next();
                if let Some(last) = out.last_mut() {
                    last.push('.');
                }
            }
            '.' => out.push(String::new()),
            c => {
                if let Some(last) = out.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    out
}

/// A time policy (`TimePolicyProvider`), in UTC.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TimeRule {
    /// `nbf`, seconds since the epoch.
    pub not_before: Option<i64>,
    /// `noa`, seconds since the epoch.
    pub not_on_or_after: Option<i64>,
    /// `(start, end)` of day of month, month (1-12), year, hour, minute.
    pub day_month: Option<(i64, Option<i64>)>,
    pub month: Option<(i64, Option<i64>)>,
    pub year: Option<(i64, Option<i64>)>,
    pub hour: Option<(i64, Option<i64>)>,
    pub minute: Option<(i64, Option<i64>)>,
}

impl TimeRule {
    /// TimePolicyProvider: denied before `nbf` and *after* `noa` (at `noa` itself still
    /// granted: `actualDate.after(noa)`); each field with an end must lie in `start..=end`,
    /// without one it must equal `start`. There is no wrap-around: `hour=22, hourEnd=2`
    /// never matches, as `isInvalid` tests `field < start || field > end`.
    pub fn grants(&self, now: i64) -> bool {
        if self.not_before.is_some_and(|nbf| now < nbf) {
            return false;
        }
        if self.not_on_or_after.is_some_and(|noa| now > noa) {
            return false;
        }
        let (y, mo, d, h, mi) = fields(now);
        let ok = |f: &Option<(i64, Option<i64>)>, v: i64| match f {
            None => true,
            Some((start, Some(end))) => v >= *start && v <= *end,
            Some((start, None)) => v == *start,
        };
        ok(&self.day_month, d)
            && ok(&self.month, mo)
            && ok(&self.year, y)
            && ok(&self.hour, h)
            && ok(&self.minute, mi)
    }
}

/// Year, month (1-12), day, hour, minute of a UTC instant.
fn fields(t: i64) -> (i64, i64, i64, i64, i64) {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    (y, m, d, secs / 3600, (secs % 3600) / 60)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Parses `yyyy-MM-dd HH:mm:ss` or `yyyy-MM-dd` (Keycloak's `TimePolicyProvider.format`
/// adds ` 00:00:00` to a 10-character value) into seconds since the epoch, UTC.
pub(crate) fn parse_date_time(s: &str) -> Option<i64> {
    let t = s.trim();
    let (date, time) = match t.len() {
        10 => (t, "00:00:00"),
        _ => t.split_once(' ')?,
    };
    let mut d = date.split('-');
    let y: i64 = d.next()?.parse().ok()?;
    let mo: i64 = d.next()?.parse().ok()?;
    let day: i64 = d.next()?.parse().ok()?;
    let mut c = time.trim().split(':');
    let h: i64 = c.next()?.parse().ok()?;
    let mi: i64 = c.next()?.parse().ok()?;
    let sec: i64 = c.next()?.parse().ok()?;
    if d.next().is_some() || c.next().is_some() {
        return None;
    }
    let max_day = match mo {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => return None,
    };
    if !(1..=max_day).contains(&day) || !(0..24).contains(&h) || !(0..60).contains(&mi) {
        return None;
    }
    if !(0..60).contains(&sec) {
        return None;
    }
    Some(days_from_civil(y, mo, day) * 86_400 + h * 3600 + mi * 60 + sec)
}

//! GET/DELETE /admin/realms/{realm}/events, GET/DELETE /admin/realms/{realm}/admin-events,
//! GET/PUT /admin/realms/{realm}/events/config
//! Keycloak's `RealmAdminResource.getEvents` / `getAdminEvents` / `clearEvents` /
//! `clearAdminEvents` / `getRealmEventsConfig` / `updateRealmEventsConfig`: read with
//! `view-events` (or `manage-events`), changed with `manage-events`.
//!
//! The listings answer as Keycloak 26 does for bad input: a `first` or `max` that is not an
//! integer is the generic 404; an unknown `type`, `operationTypes` or `resourceTypes` a 500
//! (`EventType.valueOf` throws); a malformed `dateFrom`/`dateTo` a 400 naming it; a
//! `direction` other than `asc`/`desc` a 400; a negative `first` counts as 0 and a negative
//! `max` as no limit (`PaginationUtils`); an empty value is no filter.

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::{routing, Json, Router};
use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::auth::{ManageEvents, RealmAdmin, ViewEvents};
use super::{edit_realm, no_content, AdminError, AdminResult};
use crate::events::time::parse_date_param;
use crate::events::types;
use crate::http::paths;
use crate::store::{AdminEventQuery, AdminEventRow, EventPage, EventQuery, EventRow};
use crate::AppState;

/// Keycloak's `Constants.DEFAULT_MAX_RESULTS`.
const DEFAULT_MAX: i64 = 100;

/// The query string as name/value pairs, empty values left out.
fn pairs(q: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn last<'a>(p: &'a [(String, String)], name: &str) -> Option<&'a str> {
    p.iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn all(p: &[(String, String)], name: &str) -> Vec<String> {
    p.iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .collect()
}

/// A Java `Integer` query parameter: anything else is JAX-RS's 404.
fn int(p: &[(String, String)], name: &str) -> AdminResult<Option<i64>> {
    last(p, name)
        .map(|v| {
            v.parse::<i32>()
                .map(i64::from)
                .map_err(|_| AdminError::not_found("HTTP 404 Not Found"))
        })
        .transpose()
}

/// `first`, `max` and `direction`.
fn page(p: &[(String, String)], first: Option<i64>, max: Option<i64>) -> AdminResult<EventPage> {
    let ascending = match last(p, "direction") {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(_) => {
            return Err(AdminError::Plain(
                "Invalid value for sortDirection, expected value is asc or desc".into(),
            ))
        }
    };
    Ok(EventPage {
        first: first.unwrap_or(0).max(0),
        max: match max {
            None => Some(DEFAULT_MAX),
            Some(m) if m < 0 => None,
            Some(m) => Some(m),
        },
        ascending,
    })
}

/// `dateFrom` and `dateTo`, as `DateUtil` reads them.
fn dates(p: &[(String, String)]) -> AdminResult<(Option<i64>, Option<i64>)> {
    let read = |name: &str, end: bool| {
        last(p, name)
            .map(|v| {
                parse_date_param(v, end).ok_or_else(|| {
                    AdminError::Plain(format!(
                        "Invalid value for '{name}', expected format is yyyy-MM-dd or an Epoch timestamp"
                    ))
                })
            })
            .transpose()
    };
    Ok((read("dateFrom", false)?, read("dateTo", true)?))
}

/// Every value of `name` must be one of `known` (else 500, as `valueOf` throws).
fn known(values: &[String], known: impl Fn(&str) -> bool) -> AdminResult<()> {
    match values.iter().find(|v| !known(v)) {
        Some(v) => {
            tracing::warn!(value = %v, "events listing: unknown type");
            Err(AdminError::Internal)
        }
        None => Ok(()),
    }
}

fn no_cache(body: Value) -> Response {
    let mut r = Json(body).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// `EventRepresentation`.
fn event_json(e: EventRow) -> Value {
    let mut o = Map::new();
    o.insert("id".into(), json!(e.id));
    o.insert("time".into(), json!(e.time));
    o.insert("type".into(), json!(e.kind));
    o.insert("realmId".into(), json!(e.realm_id));
    for (k, v) in [
        ("clientId", e.client_id),
        ("userId", e.user_id),
        ("sessionId", e.session_id),
        ("ipAddress", e.ip_address),
        ("error", e.error),
    ] {
        if let Some(v) = v {
            o.insert(k.into(), json!(v));
        }
    }
    if let Some(d) = e
        .details
        .and_then(|d| serde_json::from_str::<Value>(&d).ok())
    {
        o.insert("details".into(), d);
    }
    Value::Object(o)
}

/// `AdminEventRepresentation`.
fn admin_event_json(e: AdminEventRow) -> Value {
    let mut auth = Map::new();
    for (k, v) in [
        ("realmId", e.auth_realm_id),
        ("clientId", e.auth_client_id),
        ("userId", e.auth_user_id),
        ("ipAddress", e.ip_address),
    ] {
        if let Some(v) = v {
            auth.insert(k.into(), json!(v));
        }
    }
    let mut o = Map::new();
    o.insert("id".into(), json!(e.id));
    o.insert("time".into(), json!(e.time));
    o.insert("realmId".into(), json!(e.realm_id));
    o.insert("authDetails".into(), Value::Object(auth));
    o.insert("operationType".into(), json!(e.operation_type));
    o.insert("resourceType".into(), json!(e.resource_type));
    for (k, v) in [
        ("resourcePath", e.resource_path),
        ("representation", e.representation),
        ("error", e.error),
    ] {
        if let Some(v) = v {
            o.insert(k.into(), json!(v));
        }
    }
    Value::Object(o)
}

/// The listing's filters, in Keycloak's order of checks.
fn event_query(q: Option<&str>) -> AdminResult<EventQuery> {
    let p = pairs(q);
    let (first, max) = (int(&p, "first")?, int(&p, "max")?);
    let types = all(&p, "type");
    known(&types, types::is_event_type)?;
    let (from, to) = dates(&p)?;
    Ok(EventQuery {
        types,
        client: last(&p, "client").map(String::from),
        user: last(&p, "user").map(String::from),
        from,
        to,
        ip_address: last(&p, "ipAddress").map(String::from),
        page: page(&p, first, max)?,
    })
}

fn admin_event_query(q: Option<&str>) -> AdminResult<AdminEventQuery> {
    let p = pairs(q);
    let (first, max) = (int(&p, "first")?, int(&p, "max")?);
    let operation_types = all(&p, "operationTypes");
    known(&operation_types, |v| types::OPERATION_TYPES.contains(&v))?;
    let resource_types = all(&p, "resourceTypes");
    known(&resource_types, |v| types::RESOURCE_TYPES.contains(&v))?;
    let (from, to) = dates(&p)?;
    let s = |name: &str| last(&p, name).map(String::from);
    Ok(AdminEventQuery {
        operation_types,
        resource_types,
        resource_path: s("resourcePath"),
        auth_realm: s("authRealm"),
        auth_client: s("authClient"),
        auth_user: s("authUser"),
        auth_ip_address: s("authIpAddress"),
        from,
        to,
        page: page(&p, first, max)?,
    })
}

async fn list_events(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ViewEvents>,
    RawQuery(q): RawQuery,
) -> AdminResult<Response> {
    let query = event_query(q.as_deref())?;
    state.events.flush().await;
    let rows = state.store.events(&snap.id, &query).await?;
    Ok(no_cache(Value::Array(
        rows.into_iter().map(event_json).collect(),
    )))
}

async fn clear_events(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageEvents>,
) -> AdminResult<Response> {
    state.events.flush().await;
    state.store.clear_events(&snap.id).await?;
    Ok(no_content())
}

async fn list_admin_events(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ViewEvents>,
    RawQuery(q): RawQuery,
) -> AdminResult<Response> {
    let query = admin_event_query(q.as_deref())?;
    state.events.flush().await;
    let rows = state.store.admin_events(&snap.id, &query).await?;
    Ok(no_cache(Value::Array(
        rows.into_iter().map(admin_event_json).collect(),
    )))
}

async fn clear_admin_events(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageEvents>,
) -> AdminResult<Response> {
    state.events.flush().await;
    state.store.clear_admin_events(&snap.id).await?;
    Ok(no_content())
}

/// `RealmEventsConfigRepresentation` of a realm: an empty `enabledEventTypes` reads as the
/// types stored by default, and `eventsExpiration` only when set.
pub fn config_json(s: &crate::events::EventSettings) -> Value {
    let mut o = Map::new();
    o.insert("eventsEnabled".into(), json!(s.enabled));
    if s.expiration > 0 {
        o.insert("eventsExpiration".into(), json!(s.expiration));
    }
    o.insert("eventsListeners".into(), json!(s.listeners));
    let types = if s.enabled_types.is_empty() {
        types::default_enabled()
    } else {
        s.enabled_types.clone()
    };
    o.insert("enabledEventTypes".into(), json!(types));
    o.insert("adminEventsEnabled".into(), json!(s.admin_enabled));
    o.insert("adminEventsDetailsEnabled".into(), json!(s.admin_details));
    Value::Object(o)
}

async fn get_config(RealmAdmin { snap, .. }: RealmAdmin<ViewEvents>) -> AdminResult<Response> {
    Ok(no_cache(config_json(&snap.settings.events)))
}

const CONFIG_CLASS: &str = "RealmEventsConfigRepresentation";

/// Reads a config body as Jackson would, and refuses a listener the realm cannot have, as
/// `RealmManager.updateRealmEventsConfig` does, entry by entry in the list's order: an id that
/// is one of the server's `global` listeners is "Global event listeners not allowed in realm
/// specific configuration", an id outside `offered` (the listeners this server runs; `loki`
/// only with `--events-loki-url`) is "Unknown event listener".
pub fn parse_config(
    bytes: &[u8],
    offered: &[&str],
    global: &[&str],
) -> AdminResult<Map<String, Value>> {
    let mut o: Map<String, Value> = super::representation(
        bytes,
        &super::Shape::One(&super::jackson::REALM_EVENTS_CONFIG),
    )?;
    let template = json!({
        "eventsEnabled": true, "eventsExpiration": 0, "eventsListeners": [],
        "enabledEventTypes": [], "adminEventsEnabled": true, "adminEventsDetailsEnabled": true,
    });
    if let Value::Object(t) = &template {
        super::coerce_types(&mut o, t, CONFIG_CLASS)?;
    }
    if let Some(items) = o.get("eventsListeners").and_then(Value::as_array) {
        for l in items.iter().filter_map(Value::as_str) {
            if global.contains(&l) {
                return Err(AdminError::Plain(
                    "Global event listeners not allowed in realm specific configuration".into(),
                ));
            }
            if !offered.contains(&l) {
                return Err(AdminError::Plain("Unknown event listener".into()));
            }
        }
    }
    Ok(o)
}

/// Applies a config to a realm document as `RealmManager.updateRealmEventsConfig` does:
/// `eventsEnabled` and `eventsExpiration` are replaced (absent: off, none); the two lists and
/// the two admin flags only when given.
pub fn apply_config(extra: &mut Map<String, Value>, c: &Map<String, Value>) {
    let given = |k: &str| c.get(k).filter(|v| !v.is_null());
    extra.insert(
        "eventsEnabled".into(),
        json!(given("eventsEnabled")
            .and_then(Value::as_bool)
            .unwrap_or(false)),
    );
    match given("eventsExpiration").and_then(Value::as_i64) {
        Some(e) => extra.insert("eventsExpiration".into(), json!(e)),
        None => extra.remove("eventsExpiration"),
    };
    for k in [
        "eventsListeners",
        "enabledEventTypes",
        "adminEventsEnabled",
        "adminEventsDetailsEnabled",
    ] {
        if let Some(v) = given(k) {
            extra.insert(k.into(), v.clone());
        }
    }
}

async fn put_config(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageEvents>,
    bytes: Bytes,
) -> AdminResult<Response> {
    let config = parse_config(
        &bytes,
        &state.events.realm_listeners(),
        &state.events.global_listeners(),
    )?;
    edit_realm(&state, &snap.name, |rep, _| {
        apply_config(&mut rep.extra, &config);
        Ok(())
    })
    .await?;
    Ok(no_content())
}

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            paths::ADMIN_EVENTS,
            routing::get(list_events).delete(clear_events),
        )
        .route(
            paths::ADMIN_EVENTS_CONFIG,
            routing::get(get_config).put(put_config),
        )
        .route(
            paths::ADMIN_ADMIN_EVENTS,
            routing::get(list_admin_events).delete(clear_admin_events),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(r: AdminResult<impl std::fmt::Debug>) -> u16 {
        match r {
            Ok(_) => 200,
            Err(e) => e.into_response().status().as_u16(),
        }
    }

    #[test]
    fn listing_parameters_answer_as_keycloak() {
        assert_eq!(status(event_query(Some("first=abc"))), 404);
        assert_eq!(status(event_query(Some("max=99999999999"))), 404);
        assert_eq!(status(event_query(Some("type=NOPE"))), 500);
        assert_eq!(status(event_query(Some("dateFrom=x&direction=y"))), 400);
        assert_eq!(status(event_query(Some("direction=DESC"))), 400);
        assert_eq!(status(event_query(Some("type=&first=&dateFrom="))), 200);
        let q = event_query(Some(
            "first=-5&max=-1&type=LOGIN&type=LOGOUT&dateTo=1970-01-01",
        ))
        .unwrap_or_default();
        assert_eq!(q.page.first, 0);
        assert_eq!(q.page.max, None);
        assert_eq!(q.types, vec!["LOGIN", "LOGOUT"]);
        assert_eq!(q.to, Some(86_399_999));
        assert_eq!(event_query(None).unwrap_or_default().page.max, Some(100));
        assert_eq!(
            status(admin_event_query(Some("operationTypes=create"))),
            500
        );
        assert_eq!(status(admin_event_query(Some("resourceTypes=NOPE"))), 500);
        let q = admin_event_query(Some(
            "operationTypes=CREATE&resourceTypes=USER&authUser=u&direction=asc",
        ))
        .unwrap_or_default();
        assert!(q.page.ascending);
        assert_eq!(q.auth_user.as_deref(), Some("u"));
    }

    #[test]
    fn config_put_replaces_two_fields_and_merges_four() {
        let mut extra = Map::new();
        extra.insert("eventsEnabled".into(), json!(true));
        extra.insert("eventsExpiration".into(), json!(900));
        extra.insert("adminEventsEnabled".into(), json!(true));
        extra.insert("enabledEventTypes".into(), json!(["LOGIN"]));
        apply_config(&mut extra, &Map::new());
        assert_eq!(extra["eventsEnabled"], json!(false));
        assert!(!extra.contains_key("eventsExpiration"));
        assert_eq!(extra["adminEventsEnabled"], json!(true));
        assert_eq!(extra["enabledEventTypes"], json!(["LOGIN"]));
    }

    #[test]
    fn config_bodies_are_checked() {
        let offered = ["jboss-logging"];
        let parse = |b: &[u8]| parse_config(b, &offered, &["json-lines"]);
        assert_eq!(status(parse(br#"{"bad":"conf"}"#)), 400);
        assert_eq!(status(parse(br#"{"eventsListeners":["email"]}"#)), 400);
        assert_eq!(status(parse(br#"{"eventsListeners":["json-lines"]}"#)), 400);
        assert_eq!(status(parse(b"[]")), 400);
        assert_eq!(status(parse(br#"{"eventsEnabled":[1]}"#)), 400);
        assert_eq!(
            status(parse(
                br#"{"enabledEventTypes":["NOT_A_TYPE"],"eventsEnabled":"true"}"#
            )),
            200
        );
        // `loki` only where the server runs it; the refusal names the first bad entry.
        let msg = |r: AdminResult<Map<String, Value>>| match r {
            Err(AdminError::Plain(m)) => m,
            other => format!("{other:?}"),
        };
        assert_eq!(
            msg(parse(br#"{"eventsListeners":["loki"]}"#)),
            "Unknown event listener"
        );
        assert_eq!(
            status(parse_config(
                br#"{"eventsListeners":["jboss-logging","loki"]}"#,
                &["jboss-logging", "loki"],
                &[]
            )),
            200
        );
        assert_eq!(
            msg(parse(br#"{"eventsListeners":["json-lines","nope"]}"#)),
            "Global event listeners not allowed in realm specific configuration"
        );
        assert_eq!(
            msg(parse(br#"{"eventsListeners":["nope","json-lines"]}"#)),
            "Unknown event listener"
        );
    }
}

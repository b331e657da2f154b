//! The realm's e-mail sender: SMTP with the realm's `smtpServer` settings (as Keycloak's
//! `DefaultEmailSenderProvider` reads them), through `lettre` over tokio and rustls.
//!
//! Mails leave outside the request path: a handler checks the settings and puts the mail on
//! a bounded queue ([`Outbox::enqueue`]); a background task sends it, and a failure is logged
//! (host, port, recipient and the error; never the password) without touching the request.
//! The SMTP test of the admin console is the one synchronous send ([`send_now`]), because its
//! answer is the outcome.

pub mod templates;

use std::time::Duration;

use indexmap::IndexMap;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde_json::Value;
use tokio::sync::mpsc;

/// How many mails may wait for the sender before [`Outbox::enqueue`] refuses more.
pub const QUEUE_SIZE: usize = 1024;

/// Keycloak's default SMTP timeouts (`connectionTimeout`, `timeout`: 10,000 ms).
const DEFAULT_TIMEOUT_MS: u64 = 10_000;

/// The masked password of a realm's GET (`StripSecretsUtils`), which means "the stored one".
pub const MASKED_PASSWORD: &str = "**********";

/// Why the settings cannot send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// No `host`.
    #[error("SMTP host not configured")]
    NoHost,
    /// No `from` (Keycloak: `No sender address configured in the realm settings for emails`).
    #[error("No sender address configured in the realm settings for emails")]
    NoFrom,
    /// An address does not parse.
    #[error("Invalid address '{0}'")]
    Address(String),
    /// `port` is not a port number.
    #[error("Invalid port '{0}'")]
    Port(String),
}

/// The realm's `smtpServer` map, read once. The password is kept out of `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    /// `host`.
    pub host: String,
    /// `port` (default 25, or 465 with `ssl`, as JavaMail).
    pub port: u16,
    /// `from`.
    pub from: Mailbox,
    /// `replyTo` (with `replyToDisplayName`).
    pub reply_to: Option<Mailbox>,
    /// `envelopeFrom`: the bounce address (`MAIL FROM`), the `from` address otherwise.
    pub envelope_from: Option<Address>,
    /// `ssl`: implicit TLS.
    pub ssl: bool,
    /// `starttls`: STARTTLS when the server offers it.
    pub starttls: bool,
    /// `auth` with `user` and `password`.
    pub credentials: Option<(String, String)>,
    /// `connectionTimeout` / `timeout` in milliseconds (Keycloak 26.5).
    pub timeout_ms: u64,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("from", &self.from.to_string())
            .field("ssl", &self.ssl)
            .field("starttls", &self.starttls)
            .field("user", &self.credentials.as_ref().map(|(u, _)| u.as_str()))
            .finish_non_exhaustive()
    }
}

/// A value of the map as Keycloak's `Map<String, String>` holds it: the admin console sends
/// `port` as a number and the flags as booleans, which Jackson turns into strings.
fn text(map: &IndexMap<String, Value>, key: &str) -> Option<String> {
    let s = match map.get(key)? {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    (!s.is_empty()).then_some(s)
}

fn flag(map: &IndexMap<String, Value>, key: &str) -> bool {
    text(map, key).is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

fn mailbox(addr: &str, name: Option<String>) -> Result<Mailbox, SettingsError> {
    let email: Address = addr
        .parse()
        .map_err(|_| SettingsError::Address(addr.to_string()))?;
    Ok(Mailbox::new(name, email))
}

impl SmtpSettings {
    /// Reads the realm's `smtpServer` map (`None` when the realm has none).
    pub fn of(map: Option<&IndexMap<String, Value>>) -> Result<Self, SettingsError> {
        let empty = IndexMap::new();
        let map = map.unwrap_or(&empty);
        let host = text(map, "host").ok_or(SettingsError::NoHost)?;
        let from = text(map, "from").ok_or(SettingsError::NoFrom)?;
        let ssl = flag(map, "ssl");
        let port = match text(map, "port") {
            Some(p) => p.parse().map_err(|_| SettingsError::Port(p))?,
            None if ssl => 465,
            None => 25,
        };
        let from = mailbox(&from, text(map, "fromDisplayName"))?;
        let reply_to = text(map, "replyTo")
            .map(|r| mailbox(&r, text(map, "replyToDisplayName")))
            .transpose()?;
        let envelope_from = text(map, "envelopeFrom")
            .map(|e| e.parse().map_err(|_| SettingsError::Address(e)))
            .transpose()?;
        let credentials = flag(map, "auth").then(|| {
            (
                text(map, "user").unwrap_or_default(),
                text(map, "password").unwrap_or_default(),
            )
        });
        let timeout_ms = text(map, "timeout")
            .or_else(|| text(map, "connectionTimeout"))
            .and_then(|t| t.parse().ok())
            .unwrap_or(DEFAULT_TIMEOUT_MS);
        Ok(SmtpSettings {
            host,
            port,
            from,
            reply_to,
            envelope_from,
            ssl,
            starttls: flag(map, "starttls"),
            credentials,
            timeout_ms,
        })
    }
}

/// One mail: its recipient and Keycloak's subject, text and HTML bodies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The recipient's address.
    pub to: String,
    /// The subject.
    pub subject: String,
    /// The `text/plain` part.
    pub text: String,
    /// The `text/html` part.
    pub html: String,
}

/// Why a mail was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The settings cannot send.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The message could not be built.
    #[error("cannot build the message: {0}")]
    Build(String),
    /// The SMTP exchange failed.
    #[error("SMTP error: {0}")]
    Smtp(String),
    /// The queue is full (or the sender stopped).
    #[error("the e-mail queue is full")]
    QueueFull,
}

/// The message as `multipart/alternative` (text, then HTML; UTF-8), as Keycloak sends it.
fn message(settings: &SmtpSettings, mail: &Mail) -> Result<lettre::Message, SendError> {
    let to = mailbox(&mail.to, None)?;
    let mut b = lettre::Message::builder()
        .from(settings.from.clone())
        .to(to.clone())
        .subject(mail.subject.clone());
    if let Some(r) = &settings.reply_to {
        b = b.reply_to(r.clone());
    }
    if let Some(e) = &settings.envelope_from {
        let env = lettre::address::Envelope::new(Some(e.clone()), vec![to.email.clone()])
            .map_err(|e| SendError::Build(e.to_string()))?;
        b = b.envelope(env);
    }
    b.multipart(
        MultiPart::alternative()
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(mail.text.clone()),
            )
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(mail.html.clone()),
            ),
    )
    .map_err(|e| SendError::Build(e.to_string()))
}

fn transport(s: &SmtpSettings) -> Result<AsyncSmtpTransport<Tokio1Executor>, SendError> {
    let tls = || TlsParameters::new(s.host.clone()).map_err(|e| SendError::Smtp(e.to_string()));
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host)
        .port(s.port)
        .timeout(Some(Duration::from_millis(s.timeout_ms)));
    if s.ssl {
        b = b.tls(Tls::Wrapper(tls()?));
    } else if s.starttls {
        b = b.tls(Tls::Opportunistic(tls()?));
    }
    if let Some((user, password)) = &s.credentials {
        b = b.credentials(Credentials::new(user.clone(), password.clone()));
    }
    Ok(b.build())
}

/// Sends one mail now (the SMTP test); the error never holds the password.
#[tracing::instrument(level = "debug", skip_all, fields(host = %settings.host, port = settings.port))]
pub async fn send_now(settings: &SmtpSettings, mail: &Mail) -> Result<(), SendError> {
    let msg = message(settings, mail)?;
    transport(settings)?
        .send(msg)
        .await
        .map(|_| ())
        .map_err(|e| SendError::Smtp(e.to_string()))
}

/// A mail waiting for the sender, with the settings of its realm when it was queued.
#[derive(Debug)]
struct Queued {
    realm: String,
    settings: SmtpSettings,
    mail: Mail,
}

/// The queue of mails to send, drained by one background task.
#[derive(Debug, Clone)]
pub struct Outbox {
    tx: mpsc::Sender<Queued>,
}

impl Outbox {
    /// A queue of `capacity` mails and the task that sends them (needs a tokio runtime).
    pub fn spawn(capacity: usize) -> Self {
        let (tx, mut rx) = mpsc::channel::<Queued>(capacity.max(1));
        tokio::spawn(async move {
            while let Some(q) = rx.recv().await {
                match send_now(&q.settings, &q.mail).await {
                    Ok(()) => tracing::debug!(realm = %q.realm, "e-mail sent"),
                    Err(e) => tracing::warn!(
                        realm = %q.realm,
                        host = %q.settings.host,
                        port = q.settings.port,
                        to = %q.mail.to,
                        error = %e,
                        "failed to send e-mail"
                    ),
                }
            }
        });
        Outbox { tx }
    }

    /// Queues a mail of `realm` without waiting; refuses when the queue is full.
    pub fn enqueue(
        &self,
        realm: &str,
        settings: SmtpSettings,
        mail: Mail,
    ) -> Result<(), SendError> {
        self.tx
            .try_send(Queued {
                realm: realm.to_string(),
                settings,
                mail,
            })
            .map_err(|_| SendError::QueueFull)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> IndexMap<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn reads_keycloak_settings() {
        let s = SmtpSettings::of(Some(&map(json!({
            "host": "smtp.example.org", "port": 587, "from": "noreply@example.org",
            "fromDisplayName": "Example", "replyTo": "help@example.org",
            "envelopeFrom": "bounce@example.org", "starttls": true, "auth": "true",
            "user": "u", "password": "secret-pw"
        }))))
        .unwrap();
        assert_eq!(s.port, 587);
        assert!(s.starttls && !s.ssl);
        assert_eq!(s.from.to_string(), "Example <noreply@example.org>");
        assert_eq!(
            s.envelope_from.as_ref().unwrap().to_string(),
            "bounce@example.org"
        );
        assert_eq!(s.credentials.as_ref().unwrap().0, "u");
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("secret-pw"), "{dbg}");
    }

    #[test]
    fn default_ports_and_errors() {
        let s = SmtpSettings::of(Some(&map(json!({"host": "h", "from": "a@b.c"})))).unwrap();
        assert_eq!(s.port, 25);
        assert!(s.credentials.is_none());
        let s = SmtpSettings::of(Some(&map(
            json!({"host": "h", "from": "a@b.c", "ssl": "true"}),
        )))
        .unwrap();
        assert_eq!(s.port, 465);
        assert_eq!(SmtpSettings::of(None), Err(SettingsError::NoHost));
        assert_eq!(
            SmtpSettings::of(Some(&map(json!({"host": "h"})))),
            Err(SettingsError::NoFrom)
        );
        assert!(matches!(
            SmtpSettings::of(Some(&map(json!({"host": "h", "from": "not an address"})))),
            Err(SettingsError::Address(_))
        ));
        assert!(matches!(
            SmtpSettings::of(Some(&map(
                json!({"host": "h", "from": "a@b.c", "port": "x"})
            ))),
            Err(SettingsError::Port(_))
        ));
    }

    #[test]
    fn message_is_multipart_alternative() {
        let s = SmtpSettings::of(Some(&map(json!({
            "host": "h", "from": "a@b.c", "fromDisplayName": "Ünï Realm", "replyTo": "r@b.c"
        }))))
        .unwrap();
        let m = message(
            &s,
            &Mail {
                to: "x@y.z".into(),
                subject: "Verify email".into(),
                text: "plain".into(),
                html: "<p>html</p>".into(),
            },
        )
        .unwrap();
        let raw = String::from_utf8(m.formatted()).unwrap();
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(raw.contains("Reply-To: r@b.c"), "{raw}");
        assert!(raw.contains("Subject: Verify email"), "{raw}");
        assert!(raw.contains("text/html"), "{raw}");
    }
}

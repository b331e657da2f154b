//! Documents served under any base URL (discovery): serialized once with a marker standing in
//! for the base, then joined with the request's base on every request.

use bytes::{Bytes, BytesMut};
use serde_json::Value;

/// Stands in for the base URL while the document is serialized (serialized as `\u0001`; a
/// realm name cannot carry it because it is percent-encoded in every URL).
pub const MARKER: &str = "\u{1}";
const MARKER_JSON: &[u8] = b"\\u0001";

/// The document split around the base URL, ready to be joined with any base.
#[derive(Debug)]
pub struct UrlTemplate {
    parts: Vec<Bytes>,
}

impl UrlTemplate {
    /// Serializes a document whose URLs were built on [`MARKER`] as their base.
    pub fn new(doc: &Value) -> Self {
        let text = doc.to_string().into_bytes();
        let mut parts = Vec::new();
        let mut rest: &[u8] = &text;
        while let Some(i) = rest
            .windows(MARKER_JSON.len())
            .position(|w| w == MARKER_JSON)
        {
            parts.push(Bytes::copy_from_slice(&rest[..i]));
            rest = &rest[i + MARKER_JSON.len()..];
        }
        parts.push(Bytes::copy_from_slice(rest));
        UrlTemplate { parts }
    }

    /// The document for `base` (already validated: no characters that need JSON escaping).
    pub fn render(&self, base: &str) -> Bytes {
        let escaped = Value::String(base.to_string()).to_string();
        let base = &escaped.as_bytes()[1..escaped.len() - 1];
        let mut out = BytesMut::with_capacity(
            self.parts.iter().map(Bytes::len).sum::<usize>() + base.len() * self.parts.len(),
        );
        for (i, p) in self.parts.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(base);
            }
            out.extend_from_slice(p);
        }
        out.freeze()
    }
}

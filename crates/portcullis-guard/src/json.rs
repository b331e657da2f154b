//! A fast reader for JSON in the shape tokens have in practice, in front of `serde_json`.
//!
//! It reads a subset of JSON: strings without escapes, integers of at most 18 digits (no
//! fraction, no exponent, no `-0`), `true`, `false`, `null`, and arrays and objects nested at
//! most [`MAX_DEPTH`] deep, in a document that is valid UTF-8. Everything it accepts, `serde_json`
//! accepts too and reads as the same value. Every reading method returns `None` as soon as the
//! input leaves that subset, whether or not it is valid JSON: `None` never means "invalid", it
//! means "ask `serde_json`", which then accepts or rejects the input as it always does. So the
//! reader changes how fast a token is read, never what is accepted.

use serde_json::{Map, Number, Value};

/// Deepest nesting read (`serde_json` refuses beyond 128).
const MAX_DEPTH: usize = 64;

/// Most digits of an integer read: any such integer fits an `i64` and a `u64` exactly.
const MAX_DIGITS: usize = 18;

pub(crate) struct Reader<'a> {
    text: &'a str,
    pos: usize,
    depth: usize,
}

/// The index of the first byte of `bytes` that ends a string or needs more than copying: `"`,
/// `\\` or a control character. Eight bytes at a time (short strings are the common case, so a
/// few steps of arithmetic beat a call to a vectorized search).
fn special_byte(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    /// High bit of each byte of `x` that is zero. Wrong only for bytes above the first zero
    /// byte (borrows), which the lowest set bit never is.
    fn zero_bytes(x: u64) -> u64 {
        x.wrapping_sub(ONES) & !x & HIGH
    }
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let v = u64::from_le_bytes(<[u8; 8]>::try_from(chunk).ok()?);
        let found = zero_bytes(v ^ (ONES * u64::from(b'"')))
            | zero_bytes(v ^ (ONES * u64::from(b'\\')))
            // Bytes below 0x20 (bytes from 0x80 up keep their high bit and never count).
            | (v.wrapping_sub(ONES * 0x20) & !v & HIGH);
        if found != 0 {
            return Some(offset + (found.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    let tail = chunks.remainder();
    let i = tail
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
    Some(offset + i)
}

impl<'a> Reader<'a> {
    /// A reader of `bytes`, or `None` if they are not UTF-8. (Outside strings, JSON is ASCII; so
    /// a document is UTF-8 exactly when all its strings are, which `serde_json` checks string by
    /// string.)
    pub(crate) fn new(bytes: &'a [u8]) -> Option<Reader<'a>> {
        Some(Reader {
            text: std::str::from_utf8(bytes).ok()?,
            pos: 0,
            depth: 0,
        })
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    #[inline]
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// The next byte after whitespace, consumed.
    #[inline]
    fn next_token(&mut self) -> Option<u8> {
        self.skip_ws();
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    /// After the value: only whitespace may follow.
    pub(crate) fn end(mut self) -> Option<()> {
        self.skip_ws();
        (self.pos == self.text.len()).then_some(())
    }

    /// The next value's first byte (after whitespace), not consumed.
    #[inline]
    pub(crate) fn peek_value(&mut self) -> Option<u8> {
        self.skip_ws();
        self.peek()
    }

    /// A string without escapes or control characters; its content.
    pub(crate) fn string(&mut self) -> Option<&'a str> {
        if self.next_token()? != b'"' {
            return None;
        }
        let start = self.pos;
        let rest = self.text.as_bytes().get(start..)?;
        let len = special_byte(rest)?;
        if rest.get(len) != Some(&b'"') {
            return None;
        }
        self.pos = start + len + 1;
        // Both ends are ASCII quotes, hence character boundaries.
        self.text.get(start..start + len)
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        let rest = self.text.get(self.pos..)?;
        if !rest.starts_with(word) {
            return None;
        }
        self.pos += word.len();
        Some(())
    }

    /// An integer: `-?(0|[1-9][0-9]*)` with at most [`MAX_DIGITS`] digits, not `-0`, and not
    /// followed by a fraction or an exponent. The same number `serde_json` reads (`u64` if
    /// non-negative, else `i64`).
    pub(crate) fn number(&mut self) -> Option<Number> {
        self.skip_ws();
        let negative = self.peek()? == b'-';
        if negative {
            self.pos += 1;
        }
        let digits = self.text.as_bytes().get(self.pos..)?;
        let count = digits.iter().take_while(|b| b.is_ascii_digit()).count();
        let digits = digits.get(..count)?;
        if count == 0 || count > MAX_DIGITS || (digits[0] == b'0' && count > 1) {
            return None;
        }
        self.pos += count;
        if let Some(b'.' | b'e' | b'E') = self.peek() {
            return None;
        }
        let n = digits
            .iter()
            .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
        if negative {
            // `-0` is a float in serde_json.
            let n = i64::try_from(n).ok().filter(|n| *n != 0)?;
            Some(Number::from(-n))
        } else {
            Some(Number::from(n))
        }
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    /// An object: `entry` is called with each key, positioned before the value, and must read
    /// it. Keys are strings without escapes.
    pub(crate) fn object(
        &mut self,
        mut entry: impl FnMut(&mut Self, &'a str) -> Option<()>,
    ) -> Option<()> {
        if self.next_token()? != b'{' {
            return None;
        }
        self.enter()?;
        if self.peek_value()? == b'}' {
            self.pos += 1;
        } else {
            loop {
                let key = self.string()?;
                if self.next_token()? != b':' {
                    return None;
                }
                entry(self, key)?;
                match self.next_token()? {
                    b',' => {}
                    b'}' => break,
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// An array: `element` is called before each element and must read it.
    pub(crate) fn array(&mut self, mut element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        if self.next_token()? != b'[' {
            return None;
        }
        self.enter()?;
        if self.peek_value()? == b']' {
            self.pos += 1;
        } else {
            loop {
                element(self)?;
                match self.next_token()? {
                    b',' => {}
                    b']' => break,
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// Reads a value without keeping it; whether it was `null`.
    pub(crate) fn skip(&mut self) -> Option<bool> {
        match self.peek_value()? {
            b'"' => {
                self.string()?;
            }
            b'{' => self.object(|r, _| r.skip().map(drop))?,
            b'[' => self.array(|r| r.skip().map(drop))?,
            b't' => self.literal("true")?,
            b'f' => self.literal("false")?,
            b'n' => {
                self.literal("null")?;
                return Some(true);
            }
            _ => {
                self.number()?;
            }
        }
        Some(false)
    }

    /// Reads a value as a [`Value`]: the one `serde_json` builds (object keys in document order,
    /// a repeated key keeping its first place and its last value).
    pub(crate) fn value(&mut self) -> Option<Value> {
        Some(match self.peek_value()? {
            b'"' => Value::String(self.string()?.to_owned()),
            b'{' => {
                let mut map = Map::new();
                self.object(|r, key| {
                    let value = r.value()?;
                    map.insert(key.to_owned(), value);
                    Some(())
                })?;
                Value::Object(map)
            }
            b'[' => {
                let mut list = Vec::new();
                self.array(|r| {
                    list.push(r.value()?);
                    Some(())
                })?;
                Value::Array(list)
            }
            b't' => {
                self.literal("true")?;
                Value::Bool(true)
            }
            b'f' => {
                self.literal("false")?;
                Value::Bool(false)
            }
            b'n' => {
                self.literal("null")?;
                Value::Null
            }
            _ => Value::Number(self.number()?),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn read(text: &str) -> Option<Value> {
        let mut r = Reader::new(text.as_bytes())?;
        let v = r.value()?;
        r.end()?;
        Some(v)
    }

    /// Whatever the reader reads, serde_json reads the same way.
    fn agrees(text: &str) -> Option<Value> {
        let fast = read(text);
        if let Some(v) = &fast {
            let slow: Value = serde_json::from_str(text)
                .unwrap_or_else(|e| panic!("read {text:?}, serde_json refuses it: {e}"));
            assert_eq!(*v, slow, "{text}");
            // Same representation of numbers, too.
            assert_eq!(v.to_string(), slow.to_string(), "{text}");
        }
        fast
    }

    #[test]
    fn special_byte_finds_the_first() {
        let naive = |b: &[u8]| b.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
        let mut text = Vec::new();
        for len in 0..40 {
            for special in [b'"', b'\\', 0, 0x1f, b' ', 0x7f, 0x80, 0xff] {
                for pos in 0..len {
                    text.clear();
                    text.extend((0..len).map(|i| b"a\x21\xe9~ \x20"[i % 6]));
                    text[pos] = special;
                    // A special byte after the first, too, to catch borrows.
                    if pos + 1 < len {
                        text[pos + 1] = 0;
                    }
                    assert_eq!(special_byte(&text), naive(&text), "{text:?}");
                }
            }
        }
    }

    #[test]
    fn reads_the_common_shapes() {
        for text in [
            r#"{"a":"b","n":1700000000,"m":-5,"z":0,"t":true,"f":false,"x":null}"#,
            r#" { "a" : [ 1 , "é" , [ ] , { } ] , "b" : { "c" : { "d" : [ null ] } } } "#,
            r#"{"a":1,"a":2,"b":3,"a":4}"#,
            "{\"a\":\t\"\u{7f}\u{1F600}\"\r\n}",
            "[]",
            r#""s""#,
            "123456789012345678",
            "-123456789012345678",
        ] {
            assert!(agrees(text).is_some(), "{text}");
        }
    }

    #[test]
    fn leaves_everything_else_to_serde_json() {
        let deep = format!("{}1{}", "[".repeat(65), "]".repeat(65));
        let not_deep = format!("{}1{}", "[".repeat(64), "]".repeat(64));
        assert!(agrees(&not_deep).is_some());
        for text in [
            // Outside the subset, valid JSON.
            r#"{"a":"\u0041"}"#,
            r#"{"\n":1}"#,
            r#"{"a":1.5}"#,
            r#"{"a":1e3}"#,
            r#"{"a":1E3}"#,
            r#"{"a":-0}"#,
            "1234567890123456789",
            "12345678901234567890123",
            deep.as_str(),
            // Not JSON.
            r#"{"a":1,}"#,
            r#"[1,]"#,
            r#"{"a" 1}"#,
            r#"{"a":01}"#,
            r#"{"a":-}"#,
            r#"{"a":+1}"#,
            r#"{"a":tru}"#,
            r#"{"a":nul}"#,
            r#"{"a":"x"#,
            "{\"a\":\"\u{1}\"}",
            r#"{"a":1} x"#,
            r#"{"a":1}}"#,
            r#"{a:1}"#,
            r#"{"a":'x'}"#,
            "{\"a\":1}\u{a0}",
            "",
            " ",
        ] {
            assert_eq!(agrees(text), None, "{text}");
        }
        assert!(Reader::new(b"{\"a\":\"\xff\"}").is_none());
    }
}

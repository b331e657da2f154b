//! Strict unpadded base64url decoding (RFC 4648 §5, RFC 7515 §2) with the `base64` crate's
//! `URL_SAFE_NO_PAD` engine, into a caller's buffer where one is given (the header and the
//! signature are decoded on the stack; only the payload gets a `Vec`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// The decoded length of `encoded_len` characters, or `None` if no valid input has that length.
pub(crate) fn decoded_len(encoded_len: usize) -> Option<usize> {
    let tail = match encoded_len % 4 {
        0 => 0,
        2 => 1,
        3 => 2,
        _ => return None,
    };
    Some(encoded_len / 4 * 3 + tail)
}

/// Decodes `input` into the start of `out`; returns the decoded length, or `None` if `input` is
/// not valid or `out` is shorter than [`decoded_len`].
pub(crate) fn decode_to(input: &[u8], out: &mut [u8]) -> Option<usize> {
    if decoded_len(input.len())? > out.len() {
        return None;
    }
    URL_SAFE_NO_PAD.decode_slice(input, out).ok()
}

/// Decodes `input` into a new vector, or `None` if it is not valid.
pub(crate) fn decode_vec(input: &[u8]) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(input).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn strict_url_safe_unpadded() {
        let mut buf = [0u8; 8];
        assert_eq!(decode_to(b"c2ln", &mut buf), Some(3));
        assert_eq!(&buf[..3], b"sig");
        assert_eq!(decode_vec(b"c2lnbg").unwrap(), b"sign");
        for bad in [
            &b"c2ln="[..],
            b"c2l+",
            b"c2l/",
            b"c",
            b"c2lnb",
            b"c2m",
            b"c2ln bg",
        ] {
            assert_eq!(decode_vec(bad), None, "{:?}", std::str::from_utf8(bad));
        }
        // Non-zero trailing bits: one byte string has one encoding.
        assert_eq!(decode_vec(b"c2lnbh"), None);
        // Too long for the buffer.
        assert_eq!(decode_to(b"c2lnbmF0dXJl", &mut [0u8; 4]), None);
    }
}

//! Strict unpadded base64url decoding (RFC 4648 §5, RFC 7515 §2), accepting exactly what the
//! `base64` crate's `URL_SAFE_NO_PAD` engine accepts: only the URL-safe alphabet, no padding, no
//! length of the form `4k + 1`, and zero bits after the last encoded byte (so one byte string
//! has one encoding). The same work as that engine with less bookkeeping per character: it
//! only says whether the input is valid, not where it is not.

/// Set in a table entry for a byte outside the alphabet.
const INVALID: u32 = 0x8000_0000;

/// `TABLES[k][c]`: the 6-bit value of character `c` shifted to its place in a 24-bit group when
/// it is the `k`-th character of its 4-character group, or [`INVALID`].
static TABLES: [[u32; 256]; 4] = tables();

const fn tables() -> [[u32; 256]; 4] {
    let mut t = [[INVALID; 256]; 4];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        let v = match b {
            b'A'..=b'Z' => Some(b - b'A'),
            b'a'..=b'z' => Some(b - b'a' + 26),
            b'0'..=b'9' => Some(b - b'0' + 52),
            b'-' => Some(62),
            b'_' => Some(63),
            _ => None,
        };
        if let Some(v) = v {
            let v = v as u32;
            t[0][c] = v << 18;
            t[1][c] = v << 12;
            t[2][c] = v << 6;
            t[3][c] = v;
        }
        c += 1;
    }
    t
}

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

/// One 4-character group as 24 bits, [`INVALID`] set if a character is outside the alphabet.
#[inline(always)]
fn group(c: [u8; 4]) -> u32 {
    TABLES[0][usize::from(c[0])]
        | TABLES[1][usize::from(c[1])]
        | TABLES[2][usize::from(c[2])]
        | TABLES[3][usize::from(c[3])]
}

/// Decodes `input` into the start of `out`; returns the decoded length, or `None` if `input` is
/// not valid or `out` is shorter than [`decoded_len`].
pub(crate) fn decode_to(input: &[u8], out: &mut [u8]) -> Option<usize> {
    let len = decoded_len(input.len())?;
    let out = out.get_mut(..len)?;
    let (body, tail) = input.split_at(input.len() / 4 * 4);
    let (out_body, out_tail) = out.split_at_mut(body.len() / 4 * 3);
    let mut acc = 0u32;
    // Two groups (8 characters, 6 bytes) at a time, then the last group if there is one left.
    let mut pairs = body.chunks_exact(8);
    let mut out_pairs = out_body.chunks_exact_mut(6);
    for (i, o) in (&mut pairs).zip(&mut out_pairs) {
        let hi = group([i[0], i[1], i[2], i[3]]);
        let lo = group([i[4], i[5], i[6], i[7]]);
        acc |= hi | lo;
        let n = (u64::from(hi) << 24) | u64::from(lo);
        o.copy_from_slice(&n.to_be_bytes()[2..]);
    }
    if let ([a, b, c, d], [x, y, z]) = (pairs.remainder(), out_pairs.into_remainder()) {
        let n = group([*a, *b, *c, *d]);
        acc |= n;
        [*x, *y, *z] = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
    }
    // Besides the alphabet, the last partial group must leave the bits after its bytes zero.
    let trailing = match (tail, out_tail) {
        ([], []) => 0,
        ([a, b], [x]) => {
            let n = group([*a, *b, b'A', b'A']);
            *x = (n >> 16) as u8;
            n & (INVALID | 0xffff)
        }
        ([a, b, c], [x, y]) => {
            let n = group([*a, *b, *c, b'A']);
            [*x, *y] = [(n >> 16) as u8, (n >> 8) as u8];
            n & (INVALID | 0xff)
        }
        _ => return None,
    };
    (acc & INVALID == 0 && trailing == 0).then_some(len)
}

/// Decodes `input` into a new vector, or `None` if it is not valid.
pub(crate) fn decode_vec(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = vec![0; decoded_len(input.len())?];
    decode_to(input, &mut out)?;
    Some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;

    fn same_as_base64_crate(input: &[u8]) {
        let expected = URL_SAFE_NO_PAD.decode(input).ok();
        assert_eq!(
            decode_vec(input),
            expected,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }

    #[test]
    fn accepts_exactly_what_the_base64_crate_accepts() {
        // Every string of up to 5 characters over characters chosen for their edge cases:
        // values 0, 1, 16, 32, 48, 62, 63 (trailing bits), padding, the standard alphabet's
        // characters, a separator, a space and a non-ASCII byte.
        let chars = b"ABQgw-_=+/. \xc3";
        let mut input = Vec::new();
        for len in 0..=5u32 {
            for mut n in 0..chars.len().pow(len) {
                input.clear();
                for _ in 0..len {
                    input.push(chars[n % chars.len()]);
                    n /= chars.len();
                }
                same_as_base64_crate(&input);
            }
        }
        // Longer inputs, valid and with one character changed, at every length modulo 8.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let encoded = URL_SAFE_NO_PAD.encode(&bytes);
            same_as_base64_crate(encoded.as_bytes());
            for (pos, c) in [
                (0, b'='),
                (encoded.len() / 2, b'+'),
                (encoded.len().saturating_sub(1), b'.'),
            ] {
                let mut bad = encoded.clone().into_bytes();
                if let Some(b) = bad.get_mut(pos) {
                    *b = c;
                }
                same_as_base64_crate(&bad);
            }
        }
    }

    #[test]
    fn output_must_be_long_enough() {
        let mut out = [0u8; 3];
        assert_eq!(decode_to(b"c2ln", &mut out), Some(3));
        assert_eq!(&out, b"sig");
        assert_eq!(decode_to(b"c2lnbg", &mut out), None);
        assert_eq!(decoded_len(5), None);
        assert_eq!(decoded_len(6), Some(4));
    }
}

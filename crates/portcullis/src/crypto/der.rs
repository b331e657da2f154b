//! The few DER operations aws-lc-rs does not offer: converting an RSA private key between
//! PKCS#1 (`RSAPrivateKey`, what Keycloak exports) and PKCS#8 (`PrivateKeyInfo`).

use super::CryptoError;

/// `AlgorithmIdentifier { rsaEncryption, NULL }`.
const RSA_ALG_ID: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];

fn der_len(len: usize) -> Vec<u8> {
    if len < 0x80 {
        vec![len as u8]
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        let mut v = vec![0x80 | bytes.len() as u8];
        v.extend(bytes);
        v
    }
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    v.extend(der_len(content.len()));
    v.extend_from_slice(content);
    v
}

/// Reads one TLV at the start of `input`: (tag, content, rest).
fn read_tlv(input: &[u8]) -> Result<(u8, &[u8], &[u8]), CryptoError> {
    let bad = || CryptoError("malformed DER".into());
    let (&tag, rest) = input.split_first().ok_or_else(bad)?;
    let (&first, rest) = rest.split_first().ok_or_else(bad)?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return Err(bad());
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err(bad());
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

/// Wraps a PKCS#1 RSA private key in PKCS#8.
pub fn rsa_pkcs1_to_pkcs8(pkcs1: &[u8]) -> Vec<u8> {
    let mut body = vec![0x02, 0x01, 0x00];
    body.extend_from_slice(RSA_ALG_ID);
    body.extend(tlv(0x04, pkcs1));
    tlv(0x30, &body)
}

/// Extracts the PKCS#1 RSA private key from a PKCS#8 `PrivateKeyInfo`.
pub fn rsa_pkcs8_to_pkcs1(pkcs8: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let (tag, seq, _) = read_tlv(pkcs8)?;
    if tag != 0x30 {
        return Err(CryptoError("not a PKCS#8 structure".into()));
    }
    let (_, _version, rest) = read_tlv(seq)?;
    let (_, alg, rest) = read_tlv(rest)?;
    if alg != &RSA_ALG_ID[2..] {
        return Err(CryptoError("PKCS#8 key is not an RSA key".into()));
    }
    let (tag, key, _) = read_tlv(rest)?;
    if tag != 0x04 {
        return Err(CryptoError("malformed PKCS#8 private key".into()));
    }
    Ok(key.to_vec())
}

/// True when the DER starts like a PKCS#8 `PrivateKeyInfo` (SEQUENCE { INTEGER 0, SEQUENCE ...}).
pub fn looks_like_pkcs8(der: &[u8]) -> bool {
    read_tlv(der)
        .ok()
        .and_then(|(_, seq, _)| read_tlv(seq).ok())
        .and_then(|(_, _, rest)| read_tlv(rest).ok())
        .map(|(tag, _, _)| tag == 0x30)
        .unwrap_or(false)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rsa::{KeyPair, KeySize};

    #[test]
    fn pkcs1_pkcs8_roundtrip_with_a_real_key() {
        let kp = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let pkcs8 = kp.as_der().unwrap().as_ref().to_vec();
        assert!(looks_like_pkcs8(&pkcs8));
        let pkcs1 = rsa_pkcs8_to_pkcs1(&pkcs8).unwrap();
        assert!(!looks_like_pkcs8(&pkcs1));
        KeyPair::from_der(&pkcs1).unwrap();
        let back = rsa_pkcs1_to_pkcs8(&pkcs1);
        KeyPair::from_pkcs8(&back).unwrap();
        assert_eq!(back, pkcs8);
    }

    #[test]
    fn garbage_is_rejected() {
        assert!(rsa_pkcs8_to_pkcs1(&[0x30, 0x05, 1, 2]).is_err());
        assert!(rsa_pkcs8_to_pkcs1(&[]).is_err());
    }
}

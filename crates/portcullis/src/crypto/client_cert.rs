//! Client certificates and keys as the Admin API handles them (Keycloak's
//! `KeycloakModelUtils.generateKeyPairCertificate` and `CertificateInfoHelper`): a generated
//! RSA key pair with a self-signed certificate, and checks of uploaded certificates and public
//! keys. Keys and certificates are kept as Keycloak keeps them: base64 DER without the PEM
//! armour (PKCS#8 for a private key).

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use x509_cert::der::Decode;

use super::client_key::ClientKey;
use super::CryptoError;

/// A new RSA 2048 key pair (PKCS#8 DER) and a self-signed certificate (DER) whose subject is
/// `CN=<cn>`, as Keycloak generates for a client.
pub fn generate_rsa(cn: &str) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
    let failed = || CryptoError("RSA key generation failed".into());
    let kp = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| failed())?;
    let pkcs8 = kp.as_der().map_err(|_| failed())?.as_ref().to_vec();
    let cert = super::keys::self_signed_cert(&pkcs8, cn)?;
    Ok((pkcs8, cert))
}

/// Keycloak's `PemUtils.removeBeginEnd`: the base64 body of a PEM block on one line.
pub fn remove_begin_end(pem: &str) -> String {
    pem.lines()
        .map(str::trim)
        .filter(|l| !(l.starts_with("-----BEGIN ") || l.starts_with("-----END ")))
        .collect::<String>()
}

/// Whether `body` (base64, or a whole PEM block) is an X.509 certificate.
pub fn check_certificate(body: &str) -> Result<(), CryptoError> {
    let der = super::client_key::pem_or_base64(body)
        .map_err(|_| CryptoError("not base64 or PEM".into()))?;
    x509_cert::Certificate::from_der(&der)
        .map(|_| ())
        .map_err(|_| CryptoError("not an X.509 certificate".into()))
}

/// Whether `body` (base64, or a whole PEM block) is a public key (SubjectPublicKeyInfo) of a
/// kind clients can sign with.
pub fn check_public_key(body: &str) -> Result<(), CryptoError> {
    let der = super::client_key::pem_or_base64(body)
        .map_err(|_| CryptoError("not base64 or PEM".into()))?;
    ClientKey::from_spki(&der, None).map(|_| ())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::crypto::b64;

    #[test]
    fn generated_certificates_carry_the_key_and_pass_the_check() {
        let (pkcs8, cert) = generate_rsa("my-client").unwrap();
        check_certificate(&b64(&cert)).unwrap();
        let parsed = x509_cert::Certificate::from_der(&cert).unwrap();
        assert_eq!(parsed.tbs_certificate.subject.to_string(), "CN=my-client");
        // The certificate's key is the generated one.
        let kp = RsaKeyPair::from_pkcs8(&pkcs8).unwrap();
        use aws_lc_rs::signature::KeyPair;
        let spki = kp.public_key().as_der().unwrap();
        use x509_cert::der::Encode;
        assert_eq!(
            parsed
                .tbs_certificate
                .subject_public_key_info
                .to_der()
                .unwrap(),
            spki.as_ref()
        );
    }

    #[test]
    fn pem_armour_and_line_breaks_are_removed() {
        let pem = "-----BEGIN CERTIFICATE-----\r\nQUJD\r\nREVG\n-----END CERTIFICATE-----\n";
        assert_eq!(remove_begin_end(pem), "QUJDREVG");
    }

    #[test]
    fn garbage_is_neither_a_certificate_nor_a_key() {
        assert!(check_certificate("QUJD").is_err());
        assert!(check_certificate("not base64!").is_err());
        assert!(check_public_key("QUJD").is_err());
        let (_, cert) = generate_rsa("c").unwrap();
        // A certificate is not a bare public key.
        assert!(check_public_key(&b64(&cert)).is_err());
    }
}

//! PKCS#12 (`.p12`/`.pfx`) identities: a certificate and its private key in one password-protected
//! file, as `openssl pkcs12 -export` (OpenSSL 3) and current Windows and macOS tools write them.
//!
//! Supported: the integrity MAC with HMAC-SHA-256 (the PKCS#12 key derivation of RFC 7292
//! appendix B) and PBES2 encryption (PBKDF2 with HMAC-SHA-256, AES-128/192/256-CBC) of the key
//! bag and of the certificate bags, or certificate bags in clear. The legacy algorithms
//! (RC2-40, 3DES with the PKCS#12 KDF, SHA-1 MAC: `openssl pkcs12 -legacy`) are refused with an
//! error that says how to re-export the file.

use aes::{Aes128, Aes192, Aes256};
use cbc::cipher::{BlockModeDecrypt as _, KeyIvInit as _, block_padding::Pkcs7};
use hmac::{KeyInit as _, Mac as _};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::error::{CryptoError, Result};
use crate::identity::{PrivateKey, SigningIdentity};
use crate::secret::SecretString;

// Object identifiers, as their DER content bytes.
const OID_DATA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01];
const OID_ENCRYPTED_DATA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x06];
const OID_KEY_BAG: &[u8] = &[
    0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x0C, 0x0A, 0x01, 0x01,
];
const OID_SHROUDED_KEY_BAG: &[u8] = &[
    0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x0C, 0x0A, 0x01, 0x02,
];
const OID_CERT_BAG: &[u8] = &[
    0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x0C, 0x0A, 0x01, 0x03,
];
const OID_X509_CERT: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x16, 0x01];
const OID_PBES2: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x05, 0x0D];
const OID_PBKDF2: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x05, 0x0C];
const OID_HMAC_SHA256: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x02, 0x09];
const OID_SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
const OID_AES128_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x02];
const OID_AES192_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x16];
const OID_AES256_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2A];
/// `pkcs-12PbeIds` arc: the legacy password-based encryption schemes.
const OID_PKCS12_PBE_PREFIX: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x0C, 0x01];

const TAG_INTEGER: u8 = 0x02;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_OID: u8 = 0x06;
const TAG_SEQUENCE: u8 = 0x30;
const TAG_CONTEXT_0: u8 = 0xA0;
const TAG_CONTEXT_0_PRIMITIVE: u8 = 0x80;

/// Upper bound of PBKDF2 and MAC iterations accepted (OpenSSL writes 2048).
const MAX_ITERATIONS: u64 = 10_000_000;

fn err(detail: impl Into<String>) -> CryptoError {
    CryptoError::Pkcs12(detail.into())
}

const LEGACY: &str = "legacy PKCS#12 encryption (RC2/3DES, `openssl pkcs12 -legacy`); re-export the file with AES: `openssl pkcs12 -in old.p12 -nodes | openssl pkcs12 -export -out new.p12`";

/// One DER element: its tag and content.
#[derive(Clone, Copy)]
struct Tlv<'a> {
    tag: u8,
    value: &'a [u8],
}

/// Reads one DER element from the front of `input`.
fn next<'a>(input: &mut &'a [u8]) -> Result<Tlv<'a>> {
    let bytes = *input;
    let (&tag, rest) = bytes.split_first().ok_or_else(|| err("truncated DER"))?;
    let (&first, mut rest) = rest.split_first().ok_or_else(|| err("truncated DER"))?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7F);
        if n == 0 {
            return Err(err(
                "indefinite-length (BER) encoding; re-export the file with openssl",
            ));
        }
        if n > 4 || rest.len() < n {
            return Err(err("bad DER length"));
        }
        let mut len = 0usize;
        for &b in &rest[..n] {
            len = (len << 8) | usize::from(b);
        }
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return Err(err("truncated DER"));
    }
    let (value, rest) = rest.split_at(len);
    *input = rest;
    Ok(Tlv { tag, value })
}

/// The elements of a SEQUENCE or SET (checked tag).
fn children<'a>(t: Tlv<'a>, tag: u8, what: &str) -> Result<Vec<Tlv<'a>>> {
    if t.tag != tag {
        return Err(err(format!("{what}: unexpected tag 0x{:02X}", t.tag)));
    }
    let mut v = t.value;
    let mut out = Vec::new();
    while !v.is_empty() {
        out.push(next(&mut v)?);
    }
    Ok(out)
}

fn seq<'a>(t: Tlv<'a>, what: &str) -> Result<Vec<Tlv<'a>>> {
    children(t, TAG_SEQUENCE, what)
}

fn expect<'a>(t: Option<&Tlv<'a>>, tag: u8, what: &str) -> Result<&'a [u8]> {
    match t {
        Some(t) if t.tag == tag => Ok(t.value),
        _ => Err(err(format!("{what} is missing or malformed"))),
    }
}

fn uint(bytes: &[u8], what: &str) -> Result<u64> {
    if bytes.is_empty() || bytes.len() > 8 || bytes[0] & 0x80 != 0 {
        return Err(err(format!("{what}: not a small positive integer")));
    }
    Ok(bytes.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b)))
}

/// `[0] EXPLICIT` content.
fn explicit0<'a>(t: Option<&Tlv<'a>>, what: &str) -> Result<Tlv<'a>> {
    let mut v = expect(t, TAG_CONTEXT_0, what)?;
    next(&mut v)
}

/// The password as a BMPString with its two-byte terminator (the MAC's key derivation).
fn bmp_password(password: &str) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(password.len() * 2 + 2));
    for u in password.encode_utf16() {
        out.extend_from_slice(&u.to_be_bytes());
    }
    out.extend_from_slice(&[0, 0]);
    out
}

/// The PKCS#12 key derivation (RFC 7292 B.2) with SHA-256: `n` bytes for purpose `id`
/// (3 = MAC key).
fn pkcs12_kdf_sha256(
    password: &[u8],
    salt: &[u8],
    iterations: u64,
    id: u8,
    n: usize,
) -> Zeroizing<Vec<u8>> {
    const U: usize = 32;
    const V: usize = 64;
    let fill = |src: &[u8]| -> Vec<u8> {
        if src.is_empty() {
            return Vec::new();
        }
        let len = V * src.len().div_ceil(V);
        src.iter().copied().cycle().take(len).collect()
    };
    let d = [id; V];
    let mut i = Zeroizing::new(fill(salt));
    i.extend_from_slice(&fill(password));
    let mut out = Zeroizing::new(Vec::with_capacity(n + U));
    while out.len() < n {
        let mut a = Sha256::new();
        a.update(d);
        a.update(&*i);
        let mut a = a.finalize();
        for _ in 1..iterations {
            a = Sha256::digest(a);
        }
        out.extend_from_slice(&a);
        if out.len() >= n {
            break;
        }
        let b: Vec<u8> = a.iter().copied().cycle().take(V).collect();
        for block in i.chunks_mut(V) {
            let mut carry = 1u16;
            for k in (0..V).rev() {
                let sum = u16::from(block[k]) + u16::from(b[k]) + carry;
                block[k] = (sum & 0xFF) as u8;
                carry = sum >> 8;
            }
        }
    }
    out.truncate(n);
    out
}

/// PBKDF2 with HMAC-SHA-256.
fn pbkdf2_sha256(
    password: &[u8],
    salt: &[u8],
    iterations: u64,
    len: usize,
) -> Result<Zeroizing<Vec<u8>>> {
    type H = hmac::Hmac<Sha256>;
    let prf = H::new_from_slice(password).map_err(|_| err("PBKDF2 key"))?;
    let mut out = Zeroizing::new(Vec::with_capacity(len + 32));
    let mut block = 1u32;
    while out.len() < len {
        let mut m = prf.clone();
        m.update(salt);
        m.update(&block.to_be_bytes());
        let mut u = m.finalize().into_bytes();
        let mut t = u;
        for _ in 1..iterations {
            let mut m = prf.clone();
            m.update(&u);
            u = m.finalize().into_bytes();
            for (x, y) in t.iter_mut().zip(u.iter()) {
                *x ^= y;
            }
        }
        out.extend_from_slice(&t);
        block = block
            .checked_add(1)
            .ok_or_else(|| err("PBKDF2 output too long"))?;
    }
    out.truncate(len);
    Ok(out)
}

/// Decrypts `ciphertext` under the `AlgorithmIdentifier` `alg` (PBES2 only).
fn decrypt(alg: Tlv<'_>, ciphertext: &[u8], password: &str) -> Result<Zeroizing<Vec<u8>>> {
    let parts = seq(alg, "encryption algorithm")?;
    let oid = expect(parts.first(), TAG_OID, "encryption algorithm")?;
    if oid.starts_with(OID_PKCS12_PBE_PREFIX) {
        return Err(err(LEGACY));
    }
    if oid != OID_PBES2 {
        return Err(err("unsupported encryption algorithm (only PBES2 is)"));
    }
    let params = seq(
        *parts
            .get(1)
            .ok_or_else(|| err("PBES2 parameters missing"))?,
        "PBES2 parameters",
    )?;
    let kdf = seq(
        *params.first().ok_or_else(|| err("PBES2 KDF missing"))?,
        "PBES2 KDF",
    )?;
    if expect(kdf.first(), TAG_OID, "KDF")? != OID_PBKDF2 {
        return Err(err("unsupported key derivation (only PBKDF2 is)"));
    }
    let kdf_params = seq(
        *kdf.get(1).ok_or_else(|| err("PBKDF2 parameters missing"))?,
        "PBKDF2",
    )?;
    let salt = expect(kdf_params.first(), TAG_OCTET_STRING, "PBKDF2 salt")?;
    let iterations = uint(
        expect(kdf_params.get(1), TAG_INTEGER, "PBKDF2 iterations")?,
        "iterations",
    )?;
    if iterations == 0 || iterations > MAX_ITERATIONS {
        return Err(err(format!(
            "PBKDF2 iteration count {iterations} out of range"
        )));
    }
    // Optional keyLength (INTEGER), then the PRF (default HMAC-SHA-1, which is refused).
    let mut rest = kdf_params[2..].iter();
    let mut prf = None;
    for t in rest.by_ref() {
        if t.tag == TAG_SEQUENCE {
            prf = Some(seq(*t, "PBKDF2 PRF")?);
        }
    }
    match prf {
        Some(p) if expect(p.first(), TAG_OID, "PRF")? == OID_HMAC_SHA256 => {}
        _ => return Err(err("unsupported PBKDF2 PRF (only HMAC-SHA-256 is)")),
    }
    let enc = seq(
        *params.get(1).ok_or_else(|| err("PBES2 cipher missing"))?,
        "PBES2 cipher",
    )?;
    let cipher = expect(enc.first(), TAG_OID, "cipher")?;
    let iv = expect(enc.get(1), TAG_OCTET_STRING, "cipher IV")?;
    if iv.len() != 16 {
        return Err(err("cipher IV is not 16 bytes"));
    }
    let key_len = match cipher {
        c if c == OID_AES128_CBC => 16,
        c if c == OID_AES192_CBC => 24,
        c if c == OID_AES256_CBC => 32,
        _ => return Err(err("unsupported cipher (AES-128/192/256-CBC are)")),
    };
    let key = pbkdf2_sha256(password.as_bytes(), salt, iterations, key_len)?;
    let wrong = || err("cannot decrypt: wrong passphrase or damaged file");
    let plain = match key_len {
        16 => cbc::Decryptor::<Aes128>::new_from_slices(&key, iv)
            .map_err(|_| wrong())?
            .decrypt_padded_vec::<Pkcs7>(ciphertext),
        24 => cbc::Decryptor::<Aes192>::new_from_slices(&key, iv)
            .map_err(|_| wrong())?
            .decrypt_padded_vec::<Pkcs7>(ciphertext),
        _ => cbc::Decryptor::<Aes256>::new_from_slices(&key, iv)
            .map_err(|_| wrong())?
            .decrypt_padded_vec::<Pkcs7>(ciphertext),
    }
    .map_err(|_| wrong())?;
    Ok(Zeroizing::new(plain))
}

/// What the file holds.
#[derive(Default)]
struct Contents {
    keys: Vec<Zeroizing<Vec<u8>>>,
    certificates: Vec<Vec<u8>>,
}

fn safe_contents(bytes: &[u8], password: &str, out: &mut Contents) -> Result<()> {
    let mut input = bytes;
    let bags = seq(next(&mut input)?, "SafeContents")?;
    for bag in bags {
        let parts = seq(bag, "SafeBag")?;
        let id = expect(parts.first(), TAG_OID, "SafeBag id")?;
        let value = explicit0(parts.get(1), "SafeBag value")?;
        match id {
            i if i == OID_KEY_BAG => {
                out.keys.push(Zeroizing::new(der_of(value)));
            }
            i if i == OID_SHROUDED_KEY_BAG => {
                let epki = seq(value, "EncryptedPrivateKeyInfo")?;
                let alg = *epki.first().ok_or_else(|| err("key encryption missing"))?;
                let data = expect(epki.get(1), TAG_OCTET_STRING, "encrypted key")?;
                out.keys.push(decrypt(alg, data, password)?);
            }
            i if i == OID_CERT_BAG => {
                let cb = seq(value, "CertBag")?;
                if expect(cb.first(), TAG_OID, "CertBag id")? == OID_X509_CERT {
                    let inner = explicit0(cb.get(1), "CertBag value")?;
                    if inner.tag != TAG_OCTET_STRING {
                        return Err(err("CertBag value is not an OCTET STRING"));
                    }
                    out.certificates.push(inner.value.to_vec());
                }
            }
            _ => {} // CRL, secret and nested bags carry nothing we need.
        }
    }
    Ok(())
}

/// Re-encodes an element (tag, length, value) — for the key bag's PrivateKeyInfo.
fn der_of(t: Tlv<'_>) -> Vec<u8> {
    let len = t.value.len();
    let mut out = vec![t.tag];
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(t.value);
    out
}

fn verify_mac(mac_data: Tlv<'_>, auth_safe: &[u8], password: &str) -> Result<()> {
    let parts = seq(mac_data, "MacData")?;
    let digest_info = seq(
        *parts.first().ok_or_else(|| err("MAC missing"))?,
        "DigestInfo",
    )?;
    let alg = seq(
        *digest_info
            .first()
            .ok_or_else(|| err("MAC algorithm missing"))?,
        "MAC algorithm",
    )?;
    let alg = expect(alg.first(), TAG_OID, "MAC algorithm")?;
    if alg != OID_SHA256 {
        return Err(err(format!(
            "unsupported MAC digest (only SHA-256 is); {LEGACY}"
        )));
    }
    let expected = expect(digest_info.get(1), TAG_OCTET_STRING, "MAC value")?;
    let salt = expect(parts.get(1), TAG_OCTET_STRING, "MAC salt")?;
    let iterations = match parts.get(2) {
        Some(t) if t.tag == TAG_INTEGER => uint(t.value, "MAC iterations")?,
        _ => 1,
    };
    if iterations == 0 || iterations > MAX_ITERATIONS {
        return Err(err(format!(
            "MAC iteration count {iterations} out of range"
        )));
    }
    let key = pkcs12_kdf_sha256(&bmp_password(password), salt, iterations, 3, 32);
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(&key).map_err(|_| err("MAC key"))?;
    mac.update(auth_safe);
    mac.verify_slice(expected)
        .map_err(|_| err("integrity check failed: wrong passphrase or damaged file"))
}

impl SigningIdentity {
    /// A signing identity from a PKCS#12 file (DER): checks the MAC, decrypts the key and the
    /// certificates, and pairs the key with the certificate that carries its public key (the
    /// other certificates, e.g. the issuing chain, are ignored).
    pub fn from_pkcs12(der: &[u8], password: &SecretString) -> Result<Self> {
        let password = password.expose();
        let mut input = der;
        let pfx = seq(next(&mut input)?, "PFX")?;
        if uint(expect(pfx.first(), TAG_INTEGER, "PFX version")?, "version")? != 3 {
            return Err(err("not a PKCS#12 version 3 file"));
        }
        let auth_safe = seq(
            *pfx.get(1).ok_or_else(|| err("authSafe missing"))?,
            "authSafe",
        )?;
        if expect(auth_safe.first(), TAG_OID, "authSafe type")? != OID_DATA {
            return Err(err("public-key integrity mode is not supported"));
        }
        let auth_bytes = explicit0(auth_safe.get(1), "authSafe content")?;
        if auth_bytes.tag != TAG_OCTET_STRING {
            return Err(err("authSafe content is not an OCTET STRING"));
        }
        match pfx.get(2) {
            Some(mac) => verify_mac(*mac, auth_bytes.value, password)?,
            None => return Err(err("the file has no integrity MAC")),
        }
        let mut v = auth_bytes.value;
        let infos = seq(next(&mut v)?, "AuthenticatedSafe")?;
        let mut contents = Contents::default();
        for info in infos {
            let parts = seq(info, "ContentInfo")?;
            let kind = expect(parts.first(), TAG_OID, "ContentInfo type")?;
            let content = explicit0(parts.get(1), "ContentInfo content")?;
            if kind == OID_DATA {
                if content.tag != TAG_OCTET_STRING {
                    return Err(err("data content is not an OCTET STRING"));
                }
                safe_contents(content.value, password, &mut contents)?;
            } else if kind == OID_ENCRYPTED_DATA {
                let ed = seq(content, "EncryptedData")?;
                let eci = seq(
                    *ed.get(1)
                        .ok_or_else(|| err("EncryptedContentInfo missing"))?,
                    "EncryptedContentInfo",
                )?;
                let alg = *eci
                    .get(1)
                    .ok_or_else(|| err("content encryption missing"))?;
                let data = match eci.get(2) {
                    Some(t) if t.tag == TAG_CONTEXT_0_PRIMITIVE => t.value,
                    _ => return Err(err("encrypted content missing")),
                };
                let plain = decrypt(alg, data, password)?;
                safe_contents(&plain, password, &mut contents)?;
            }
        }
        let key_der = contents
            .keys
            .first()
            .ok_or_else(|| err("the file holds no private key"))?;
        if contents.keys.len() > 1 {
            return Err(err("the file holds several private keys"));
        }
        if contents.certificates.is_empty() {
            return Err(err("the file holds no certificate"));
        }
        let mut last = None;
        for cert in &contents.certificates {
            let key = PrivateKey::from_pkcs8_der(key_der)?;
            match SigningIdentity::new(cert, key) {
                Ok(id) => return Ok(id),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| err("no certificate matches the private key")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kdf_and_pbkdf2_known_answers() {
        // PBKDF2-HMAC-SHA256, RFC 7914 section 11 test vector (P="passwd", S="salt", c=1).
        let k = pbkdf2_sha256(b"passwd", b"salt", 1, 64).unwrap();
        assert_eq!(
            hex::encode(&k[..32]),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        );
        // The MAC key of an empty password is well defined (terminator only).
        assert_eq!(&*bmp_password(""), &[0, 0]);
        assert_eq!(&*bmp_password("ab"), &[0, b'a', 0, b'b', 0, 0]);
        let a = pkcs12_kdf_sha256(&bmp_password("x"), b"saltsalt", 2048, 3, 32);
        let b = pkcs12_kdf_sha256(&bmp_password("y"), b"saltsalt", 2048, 3, 32);
        assert_eq!(a.len(), 32);
        assert_ne!(*a, *b);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let pw = SecretString::new("x");
        for bad in [
            &b""[..],
            b"\x30",
            b"\x30\x80\x00\x00",
            b"\x30\x03\x02\x01\x03",
            b"\x04\x84\xff\xff\xff\xff",
        ] {
            assert!(SigningIdentity::from_pkcs12(bad, &pw).is_err());
        }
    }
}

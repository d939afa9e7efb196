//! DN attributes of certificates and requests: the ones `CertificateEnrollmentDataResponse`
//! names, read from an X.500 name whatever their string type.

use serde_json::{Map, Value, json};
use x509_cert::name::Name;

/// `(OID, JSON field)` of every attribute enrollment data carries.
const ATTRIBUTES: [(&str, &str); 8] = [
    ("2.5.4.3", "commonName"),
    ("2.5.4.4", "surname"),
    ("2.5.4.5", "serialNumber"),
    ("2.5.4.6", "countryName"),
    ("2.5.4.10", "organizationName"),
    ("2.5.4.42", "givenName"),
    ("2.5.4.45", "uniqueIdentifier"),
    ("2.5.4.97", "organizationIdentifier"),
];

const COUNTRY: &str = "2.5.4.6";

/// The string value of an attribute (UTF8String, PrintableString, IA5String, BMPString is not
/// used by KSeF), `None` for other types.
fn text(value: &der::Any) -> Option<String> {
    if let Ok(s) = value.decode_as::<der::asn1::Utf8StringRef<'_>>() {
        return Some(s.as_str().to_string());
    }
    if let Ok(s) = value.decode_as::<der::asn1::PrintableStringRef<'_>>() {
        return Some(s.as_str().to_string());
    }
    if let Ok(s) = value.decode_as::<der::asn1::Ia5StringRef<'_>>() {
        return Some(s.as_str().to_string());
    }
    if let Ok(s) = value.decode_as::<der::asn1::TeletexStringRef<'_>>() {
        return Some(s.as_str().to_string());
    }
    None
}

/// Every attribute of `name` as `(OID, value)`, in order; values of unknown string types are
/// `None`.
pub(crate) fn all_attributes(name: &Name) -> Vec<(String, Option<String>)> {
    name.iter()
        .map(|atv| (atv.oid.to_string(), text(&atv.value)))
        .collect()
}

/// The first value of `oid` in `name`.
pub(crate) fn attribute(name: &Name, oid: &str) -> Option<String> {
    all_attributes(name)
        .into_iter()
        .find(|(o, _)| o == oid)
        .and_then(|(_, v)| v)
}

/// The DN attributes a certificate request must carry: those of enrollment data in the subject
/// of the authenticating certificate, with `countryName=PL` when it has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EnrollmentSubject {
    /// `(OID, value)`, sorted.
    attributes: Vec<(String, String)>,
}

impl EnrollmentSubject {
    /// From the subject of the certificate used to authenticate.
    pub(crate) fn of(name: &Name) -> Self {
        let mut attributes: Vec<(String, String)> = all_attributes(name)
            .into_iter()
            .filter(|(o, _)| ATTRIBUTES.iter().any(|(a, _)| a == o))
            .filter_map(|(o, v)| v.map(|v| (o, v)))
            .collect();
        if !attributes.iter().any(|(o, _)| o == COUNTRY) {
            attributes.push((COUNTRY.to_string(), "PL".to_string()));
        }
        attributes.sort();
        Self { attributes }
    }

    /// `CertificateEnrollmentDataResponse` (repeated attributes joined with a space).
    pub(crate) fn to_json(&self) -> Value {
        let mut m = Map::new();
        for (oid, field) in ATTRIBUTES {
            let values: Vec<&str> = self
                .attributes
                .iter()
                .filter(|(o, _)| o == oid)
                .map(|(_, v)| v.as_str())
                .collect();
            if !values.is_empty() {
                m.insert(field.to_string(), json!(values.join(" ")));
            }
        }
        m.entry("commonName").or_insert_with(|| json!(""));
        Value::Object(m)
    }

    /// How the subject of a request differs from this one (empty when it is equal: the same
    /// attributes with the same values, in any order, and no others).
    pub(crate) fn differences(&self, requested: &Name) -> Vec<String> {
        let mut got: Vec<(String, String)> = Vec::new();
        let mut problems = Vec::new();
        for (oid, value) in all_attributes(requested) {
            match value {
                Some(v) => got.push((oid, v)),
                None => problems.push(format!("Attribute {oid} has an unsupported string type.")),
            }
        }
        got.sort();
        for a in &self.attributes {
            if !got.contains(a) {
                problems.push(format!("Missing or different attribute {}={}.", a.0, a.1));
            }
        }
        for g in &got {
            if !self.attributes.contains(g) {
                problems.push(format!("Unexpected attribute {}={}.", g.0, g.1));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn equal_in_any_order_and_country_defaults_to_pl() {
        let auth =
            Name::from_str("CN=Jan Kowalski,serialNumber=TINPL-5265877635,SN=Kowalski,GN=Jan")
                .unwrap();
        let data = EnrollmentSubject::of(&auth);
        let j = data.to_json();
        assert_eq!(j["countryName"], "PL");
        assert_eq!(j["serialNumber"], "TINPL-5265877635");
        assert_eq!(j["givenName"], "Jan");
        let same =
            Name::from_str("C=PL,GN=Jan,SN=Kowalski,serialNumber=TINPL-5265877635,CN=Jan Kowalski")
                .unwrap();
        assert!(data.differences(&same).is_empty());
        let other =
            Name::from_str("C=PL,GN=Jan,SN=Nowak,serialNumber=TINPL-5265877635,CN=Jan Kowalski")
                .unwrap();
        assert_eq!(data.differences(&other).len(), 2);
        let extra = Name::from_str(
            "C=PL,GN=Jan,SN=Kowalski,serialNumber=TINPL-5265877635,CN=Jan Kowalski,O=X",
        )
        .unwrap();
        assert_eq!(data.differences(&extra).len(), 1);
    }
}

//! Strict reading and writing of the generated documents, with errors that name the XML path.

use ksef_invoice_xsd::xsd_parser_types::quick_xml::{
    DeserializeBytes, DeserializeHelper, DeserializeSync, Error as XmlError, ErrorKind,
    SerializeSync, SliceReader, WithDeserializer, WithSerializer, Writer, XmlReader,
};

use crate::InvoiceError;

/// Parses a whole document whose root element is `Faktura`.
pub(crate) fn read<T>(text: &str) -> Result<T, InvoiceError>
where
    T: WithDeserializer,
{
    let mut reader = SliceReader::new(text).with_error_info();
    T::deserialize(&mut reader).map_err(|e| parse_error(&e))
}

/// Serializes a document (UTF-8, XML declaration, root `Faktura`).
pub(crate) fn write<T>(doc: &T) -> Result<Vec<u8>, InvoiceError>
where
    T: WithSerializer,
{
    let mut out = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n".to_vec();
    let mut writer = Writer::new(&mut out);
    doc.serialize("Faktura", &mut writer)
        .map_err(|e| InvoiceError::Serialize(e.to_string()))?;
    out.push(b'\n');
    Ok(out)
}

/// Reads one simple value (`PL`, `23`, a NIP, an amount) exactly as the parser reads element text,
/// so every pattern, length, digit limit and enumeration of its type applies.
pub(crate) fn value<T: DeserializeBytes>(path: &str, text: &str) -> Result<T, InvoiceError> {
    T::deserialize_bytes(&mut DeserializeHelper::default(), text.as_bytes()).map_err(|e| {
        let rule = match &e.kind {
            ErrorKind::InvalidValue(_, why) => why.to_string(),
            ErrorKind::UnknownOrInvalidValue(_) => "not one of the values the schema allows".into(),
            other => readable(&other.to_string()),
        };
        InvoiceError::Invalid {
            path: path.to_string(),
            rule: format!("`{text}`: {rule}"),
        }
    })
}

/// xsd-parser-types prints the raw bytes of a value one byte per `char` (`ż` becomes `Å¼`);
/// a message made only of such characters is decoded back to UTF-8.
fn readable(message: &str) -> String {
    if message.chars().any(|c| u32::from(c) > 0xFF) {
        return message.to_string();
    }
    let bytes: Vec<u8> = message
        .chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect();
    String::from_utf8(bytes).unwrap_or_else(|_| message.to_string())
}

/// `Faktura/Fa/P_2` from the parser's element stack.
fn parse_error(e: &XmlError) -> InvoiceError {
    let path = e
        .elements
        .as_ref()
        .map(|els| {
            els.iter()
                .map(|el| el.rsplit(':').next().unwrap_or(el).to_string())
                .collect::<Vec<_>>()
                .join("/")
        })
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "Faktura".to_string());
    InvoiceError::Parse {
        path,
        message: readable(&e.kind.to_string()),
        position: e.position,
    }
}

//! Bounded XML parsing: a linear pre-scan rejects documents that are too deep, too large in
//! nodes or attributes, or that declare too many namespaces, before the tree parser (whose
//! namespace and attribute bookkeeping is quadratic in the worst case) and the canonicalizer
//! ever see them.

use quick_xml::events::Event;
use roxmltree::{Document, ParsingOptions};

/// Structural limits of one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct XmlLimits {
    /// Deepest element nesting (the document element is depth 1).
    pub(crate) max_depth: usize,
    /// Most nodes: elements, text runs, comments, processing instructions and attributes.
    pub(crate) max_nodes: usize,
    /// Most attributes (namespace declarations included) on one element.
    pub(crate) max_attributes_per_element: usize,
    /// Most namespace declarations (`xmlns`, `xmlns:p`) in the whole document.
    pub(crate) max_namespace_declarations: usize,
}

impl XmlLimits {
    /// A signed `AuthTokenRequest`: a few dozen elements in practice.
    pub(crate) const AUTH_REQUEST: Self = Self {
        max_depth: 32,
        max_nodes: 4_096,
        max_attributes_per_element: 32,
        max_namespace_declarations: 64,
    };

    /// An invoice (FA, PEF): up to 3 MB with many rows and attachment tables.
    pub(crate) const INVOICE: Self = Self {
        max_depth: 64,
        max_nodes: 1_000_000,
        max_attributes_per_element: 64,
        max_namespace_declarations: 128,
    };
}

/// Why a document was refused before parsing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum XmlLimitError {
    /// Elements nested deeper than allowed.
    #[error("XML nesting deeper than {0} levels")]
    TooDeep(usize),
    /// More nodes than allowed.
    #[error("XML document has more than {0} nodes")]
    TooManyNodes(usize),
    /// One element has too many attributes.
    #[error("an XML element has more than {0} attributes")]
    TooManyAttributes(usize),
    /// Too many namespace declarations.
    #[error("XML document declares more than {0} namespaces")]
    TooManyNamespaces(usize),
    /// Not well-formed XML.
    #[error("{0}")]
    NotWellFormed(String),
}

/// Checks `text` against `limits` in one linear pass, stopping at the first limit exceeded.
pub(crate) fn scan(text: &str, limits: &XmlLimits) -> Result<(), XmlLimitError> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut depth = 0usize;
    let mut nodes = 0usize;
    let mut declarations = 0usize;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| XmlLimitError::NotWellFormed(e.to_string()))?;
        let element = match &event {
            Event::Start(e) => {
                depth += 1;
                if depth > limits.max_depth {
                    return Err(XmlLimitError::TooDeep(limits.max_depth));
                }
                Some(e)
            }
            Event::Empty(e) => {
                if depth + 1 > limits.max_depth {
                    return Err(XmlLimitError::TooDeep(limits.max_depth));
                }
                Some(e)
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                None
            }
            Event::Eof => return Ok(()),
            _ => None,
        };
        nodes += 1;
        if let Some(e) = element {
            let mut attributes = e.attributes();
            // The duplicate check of the tokenizer is quadratic; the tree parser checks later.
            attributes.with_checks(false);
            let mut count = 0usize;
            for a in attributes {
                let a = a.map_err(|e| XmlLimitError::NotWellFormed(e.to_string()))?;
                count += 1;
                if count > limits.max_attributes_per_element {
                    return Err(XmlLimitError::TooManyAttributes(
                        limits.max_attributes_per_element,
                    ));
                }
                let key = a.key.as_ref();
                if key == b"xmlns" || key.starts_with(b"xmlns:") {
                    declarations += 1;
                    if declarations > limits.max_namespace_declarations {
                        return Err(XmlLimitError::TooManyNamespaces(
                            limits.max_namespace_declarations,
                        ));
                    }
                }
            }
            nodes += count;
        }
        if nodes > limits.max_nodes {
            return Err(XmlLimitError::TooManyNodes(limits.max_nodes));
        }
    }
}

/// Scans `text` against `limits`, then parses it (DTDs refused, the node count capped again by
/// the parser).
pub(crate) fn parse<'i>(text: &'i str, limits: &XmlLimits) -> Result<Document<'i>, XmlLimitError> {
    scan(text, limits)?;
    Document::parse_with_options(
        text,
        ParsingOptions {
            allow_dtd: false,
            nodes_limit: u32::try_from(limits.max_nodes.saturating_add(1)).unwrap_or(u32::MAX),
            ..ParsingOptions::default()
        },
    )
    .map_err(|e| match e {
        roxmltree::Error::NodesLimitReached => XmlLimitError::TooManyNodes(limits.max_nodes),
        e => XmlLimitError::NotWellFormed(e.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: XmlLimits = XmlLimits {
        max_depth: 4,
        max_nodes: 20,
        max_attributes_per_element: 3,
        max_namespace_declarations: 2,
    };

    #[test]
    fn within_limits_parses() {
        let doc = parse(r#"<a xmlns="urn:a"><b x="1"><c/>t</b></a>"#, &SMALL).unwrap();
        assert_eq!(doc.root_element().tag_name().name(), "a");
    }

    #[test]
    fn each_limit_is_enforced() {
        assert_eq!(
            parse("<a><a><a><a><a/></a></a></a></a>", &SMALL).unwrap_err(),
            XmlLimitError::TooDeep(4)
        );
        assert_eq!(
            parse("<a><a><a><a></a></a></a></a>", &SMALL).map(|_| ()),
            Ok(())
        );
        let many = format!("<a>{}</a>", "<b/>".repeat(30));
        assert_eq!(
            parse(&many, &SMALL).unwrap_err(),
            XmlLimitError::TooManyNodes(20)
        );
        assert_eq!(
            parse(r#"<a p="1" q="2" r="3" s="4"/>"#, &SMALL).unwrap_err(),
            XmlLimitError::TooManyAttributes(3)
        );
        assert_eq!(
            parse(
                r#"<a xmlns:p="urn:p"><b xmlns:q="urn:q"><c xmlns="urn:c"/></b></a>"#,
                &SMALL
            )
            .unwrap_err(),
            XmlLimitError::TooManyNamespaces(2)
        );
        assert!(matches!(
            parse("<a><b></a>", &SMALL),
            Err(XmlLimitError::NotWellFormed(_))
        ));
        assert!(matches!(
            parse("<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>", &SMALL),
            Err(XmlLimitError::NotWellFormed(_))
        ));
    }
}

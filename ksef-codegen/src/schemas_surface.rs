//! The invoice schema surface: every type, element, attribute and facet of the pinned XSDs as a
//! compact indented outline (documentation left out, enumerations on one line), so that a new
//! schema version shows up in review as a readable diff of `tests/snapshots/invoice_schemas__*.snap`.
//! `cargo xtask regen-schemas` rewrites these snapshots; `--check` and `tests/invoice_schemas.rs`
//! compare them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::SpecError;
use crate::schemas::LocatedSchemas;

/// The outline of every file of a schema set, file by file in path order.
pub fn render(schemas: &LocatedSchemas) -> Result<String, SpecError> {
    let mut out = format!("# {}\n", schemas.lock.version);
    for (path, bytes) in &schemas.files {
        let text = std::str::from_utf8(bytes)
            .map_err(|e| SpecError::Schemas(format!("{path} is not UTF-8: {e}")))?;
        let doc = roxmltree::Document::parse(text)
            .map_err(|e| SpecError::Schemas(format!("{path} is not well-formed XML: {e}")))?;
        let _ = writeln!(out, "\n== {path}");
        outline(doc.root_element(), 0, &mut out);
    }
    Ok(out)
}

fn outline(node: roxmltree::Node<'_, '_>, depth: usize, out: &mut String) {
    let name = node.tag_name().name();
    let _ = write!(out, "{}{name}", "  ".repeat(depth));
    for a in node.attributes() {
        if name == "schema" && a.name() != "targetNamespace" {
            continue;
        }
        let _ = write!(out, " {}={:?}", a.name(), a.value());
    }
    out.push('\n');
    let children: Vec<_> = node
        .children()
        .filter(|c| c.is_element() && c.tag_name().name() != "annotation")
        .collect();
    let mut i = 0;
    while i < children.len() {
        let child = children[i];
        if child.tag_name().name() == "enumeration" {
            let mut values = Vec::new();
            while i < children.len() && children[i].tag_name().name() == "enumeration" {
                values.push(children[i].attribute("value").unwrap_or("").to_string());
                i += 1;
            }
            let _ = writeln!(
                out,
                "{}enumeration ({}): {}",
                "  ".repeat(depth + 1),
                values.len(),
                values.join(" | ")
            );
            continue;
        }
        outline(child, depth + 1, out);
        i += 1;
    }
}

/// The snapshot file of the invoice schema surface and its insta expression.
pub fn snapshot_path(root: &Path) -> PathBuf {
    root.join("tests")
        .join("snapshots")
        .join("invoice_schemas__invoice_schema_surface.snap")
}

/// The expression insta records for the snapshot.
pub const SNAPSHOT_EXPRESSION: &str = "schemas_surface::render(&located)";

/// A snapshot file's full text in insta's format.
pub fn file_text(body: &str) -> String {
    format!(
        "---\nsource: tests/invoice_schemas.rs\nexpression: \"{SNAPSHOT_EXPRESSION}\"\n---\n{}\n",
        body.trim_end()
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::BTreeMap;

    use super::*;
    use crate::schemas::SchemaLock;

    #[test]
    fn outlines_structure_and_facets_without_documentation() {
        let xsd = r#"<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t" elementFormDefault="qualified">
  <xsd:simpleType name="TKod"><xsd:annotation><xsd:documentation>doc</xsd:documentation></xsd:annotation>
    <xsd:restriction base="xsd:string"><xsd:enumeration value="A"/><xsd:enumeration value="B"/><xsd:maxLength value="3"/></xsd:restriction>
  </xsd:simpleType>
</xsd:schema>"#;
        let located = LocatedSchemas {
            dir: PathBuf::new(),
            lock: SchemaLock {
                version: "X (1) 1".into(),
                source: "t".into(),
                fa3: "a.xsd".into(),
                fa_rr: "a.xsd".into(),
                files: BTreeMap::new(),
            },
            files: [("a.xsd".to_string(), xsd.as_bytes().to_vec())]
                .into_iter()
                .collect(),
        };
        let text = render(&located).unwrap();
        assert_eq!(
            text,
            "# X (1) 1\n\n== a.xsd\nschema targetNamespace=\"urn:t\"\n  simpleType name=\"TKod\"\n    restriction base=\"xsd:string\"\n      enumeration (2): A | B\n      maxLength value=\"3\"\n"
        );
    }
}

//! XML canonicalization over roxmltree: inclusive C14N 1.0 and 1.1, exclusive C14N, with or
//! without comments, for a whole document or an element subtree, optionally excluding one
//! subtree (the enveloped-signature transform).
//!
//! roxmltree does not keep prefixes, so qualified names are read from the input text.

use std::collections::BTreeMap;
use std::rc::Rc;

use roxmltree::{Document, Node, NodeId, NodeType};

/// Canonicalization algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Method {
    /// Inclusive C14N 1.0 (`http://www.w3.org/TR/2001/REC-xml-c14n-20010315`).
    Inclusive10,
    /// Inclusive C14N 1.1 (`http://www.w3.org/2006/12/xml-c14n11`).
    Inclusive11,
    /// Exclusive C14N with an InclusiveNamespaces prefix list (`#default` = default namespace).
    Exclusive(Vec<String>),
}

/// Algorithm plus comment handling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct C14n {
    pub method: Method,
    pub with_comments: bool,
}

pub(crate) const C14N10: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
pub(crate) const C14N10_COMMENTS: &str =
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments";
pub(crate) const C14N11: &str = "http://www.w3.org/2006/12/xml-c14n11";
pub(crate) const C14N11_COMMENTS: &str = "http://www.w3.org/2006/12/xml-c14n11#WithComments";
pub(crate) const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
pub(crate) const EXC_C14N_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";

impl C14n {
    /// The algorithm for a URI (prefix list only for exclusive), or None when unknown.
    pub(crate) fn from_uri(uri: &str, prefixes: Vec<String>) -> Option<Self> {
        let (method, with_comments) = match uri {
            C14N10 => (Method::Inclusive10, false),
            C14N10_COMMENTS => (Method::Inclusive10, true),
            C14N11 => (Method::Inclusive11, false),
            C14N11_COMMENTS => (Method::Inclusive11, true),
            EXC_C14N => (Method::Exclusive(prefixes), false),
            EXC_C14N_COMMENTS => (Method::Exclusive(prefixes), true),
            _ => return None,
        };
        Some(Self {
            method,
            with_comments,
        })
    }
}

struct Ctx<'a, 'input> {
    input: &'input str,
    opts: &'a C14n,
    exclude: Option<NodeId>,
    out: String,
}

/// Canonicalizes the whole document (`apex = None`) or the subtree of `apex`, leaving out the
/// subtree rooted at `exclude`. Walks the tree with an explicit stack: the depth of the
/// document costs heap, never call stack.
pub(crate) fn canonicalize(
    doc: &Document<'_>,
    apex: Option<Node<'_, '_>>,
    exclude: Option<NodeId>,
    opts: &C14n,
) -> Vec<u8> {
    let mut ctx = Ctx {
        input: doc.input_text(),
        opts,
        exclude,
        out: String::new(),
    };
    match apex {
        Some(el) => subtree(&mut ctx, el),
        None => {
            let root = doc.root();
            let mut seen_root = false;
            for child in root.children() {
                match child.node_type() {
                    NodeType::Element => {
                        subtree(&mut ctx, child);
                        seen_root = true;
                    }
                    NodeType::Comment if ctx.opts.with_comments => {
                        if seen_root {
                            ctx.out.push('\n');
                        }
                        comment(&mut ctx, child);
                        if !seen_root {
                            ctx.out.push('\n');
                        }
                    }
                    NodeType::PI => {
                        if seen_root {
                            ctx.out.push('\n');
                        }
                        pi(&mut ctx, child);
                        if !seen_root {
                            ctx.out.push('\n');
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    ctx.out.into_bytes()
}

/// Namespaces rendered by the output ancestors of an element (prefix "" = default).
type Rendered = Rc<BTreeMap<String, String>>;

/// One step of the walk.
enum Step<'a, 'input> {
    /// Render a node (an element with the namespaces its output ancestors rendered).
    Node(Node<'a, 'input>, Rendered),
    /// Close an element.
    End(&'input str),
}

fn subtree<'a, 'input>(ctx: &mut Ctx<'_, 'input>, apex: Node<'a, 'input>) {
    let mut stack: Vec<Step<'a, 'input>> = Vec::new();
    let is_apex = |n: Node<'_, '_>| n == apex;
    stack.push(Step::Node(apex, Rc::new(BTreeMap::new())));
    while let Some(step) = stack.pop() {
        let (node, rendered) = match step {
            Step::End(qname) => {
                ctx.out.push_str("</");
                ctx.out.push_str(qname);
                ctx.out.push('>');
                continue;
            }
            Step::Node(node, rendered) => (node, rendered),
        };
        match node.node_type() {
            NodeType::Element => {
                if Some(node.id()) == ctx.exclude {
                    continue;
                }
                let (qname, next_rendered) = start_tag(ctx, node, &rendered, is_apex(node));
                stack.push(Step::End(qname));
                let next_rendered = Rc::new(next_rendered);
                let children: Vec<Node<'a, 'input>> = node.children().collect();
                for child in children.into_iter().rev() {
                    stack.push(Step::Node(child, Rc::clone(&next_rendered)));
                }
            }
            NodeType::Text => escape_text(&mut ctx.out, node.text().unwrap_or("")),
            NodeType::Comment if ctx.opts.with_comments => comment(ctx, node),
            NodeType::PI => pi(ctx, node),
            _ => {}
        }
    }
}

fn element_qname<'i>(input: &'i str, node: Node<'_, '_>) -> &'i str {
    let start = node.range().start + 1;
    let rest = input.get(start..).unwrap_or("");
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .unwrap_or(rest.len());
    rest.get(..end).unwrap_or("")
}

fn prefix_of(qname: &str) -> &str {
    qname.split_once(':').map(|(p, _)| p).unwrap_or("")
}

/// In-scope namespaces of an element (prefix "" = default), without `xml`.
fn in_scope(node: Node<'_, '_>) -> BTreeMap<String, String> {
    node.namespaces()
        .filter(|ns| ns.name() != Some("xml"))
        .map(|ns| (ns.name().unwrap_or("").to_string(), ns.uri().to_string()))
        .collect()
}

/// Writes the start tag of `node`; returns its qualified name and the namespaces rendered for
/// its children.
fn start_tag<'input>(
    ctx: &mut Ctx<'_, 'input>,
    node: Node<'_, '_>,
    rendered: &BTreeMap<String, String>,
    is_apex: bool,
) -> (&'input str, BTreeMap<String, String>) {
    let qname = element_qname(ctx.input, node);
    let scope = in_scope(node);
    let mut emit: BTreeMap<String, String> = BTreeMap::new();
    let consider = |p: &str, emit: &mut BTreeMap<String, String>| {
        let uri = scope.get(p).cloned().unwrap_or_default();
        let current = rendered.get(p).cloned().unwrap_or_default();
        if uri != current {
            emit.insert(p.to_string(), uri);
        }
    };
    // attribute qnames
    let attrs: Vec<(String, String, String, String)> = node
        .attributes()
        .map(|a| {
            let q = ctx
                .input
                .get(a.range_qname())
                .unwrap_or(a.name())
                .to_string();
            (
                a.namespace().unwrap_or("").to_string(),
                a.name().to_string(),
                q,
                a.value().to_string(),
            )
        })
        .collect();
    match &ctx.opts.method {
        Method::Inclusive10 | Method::Inclusive11 => {
            let mut keys: Vec<String> = scope.keys().cloned().collect();
            if !keys.iter().any(|k| k.is_empty()) {
                keys.push(String::new());
            }
            for p in keys {
                consider(&p, &mut emit);
            }
        }
        Method::Exclusive(list) => {
            let mut used: Vec<String> = vec![prefix_of(qname).to_string()];
            for (_, _, q, _) in &attrs {
                let p = prefix_of(q);
                if !p.is_empty() && p != "xml" {
                    used.push(p.to_string());
                }
            }
            for p in list {
                let p = if p == "#default" { "" } else { p.as_str() };
                if p.is_empty() || scope.contains_key(p) {
                    used.push(p.to_string());
                }
            }
            for p in used {
                consider(&p, &mut emit);
            }
        }
    }
    // An empty default namespace is only emitted to undo a rendered non-empty one.
    if emit.get("").is_some_and(String::is_empty) && rendered.get("").is_none_or(String::is_empty) {
        emit.remove("");
    }
    ctx.out.push('<');
    ctx.out.push_str(qname);
    for (p, uri) in &emit {
        if p.is_empty() {
            ctx.out.push_str(" xmlns=\"");
        } else {
            ctx.out.push_str(" xmlns:");
            ctx.out.push_str(p);
            ctx.out.push_str("=\"");
        }
        escape_attr(&mut ctx.out, uri);
        ctx.out.push('"');
    }
    let mut all_attrs = attrs;
    if is_apex && matches!(ctx.opts.method, Method::Inclusive10 | Method::Inclusive11) {
        // xml:* attributes inherited from ancestors
        const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
        let names: &[&str] = if ctx.opts.method == Method::Inclusive10 {
            &["lang", "space", "base"]
        } else {
            &["lang", "space"]
        };
        for anc in node.ancestors().skip(1).filter(|a| a.is_element()) {
            for a in anc.attributes() {
                if a.namespace() == Some(XML_NS)
                    && names.contains(&a.name())
                    && !all_attrs
                        .iter()
                        .any(|(ns, n, _, _)| ns == XML_NS && n == a.name())
                {
                    all_attrs.push((
                        XML_NS.to_string(),
                        a.name().to_string(),
                        format!("xml:{}", a.name()),
                        a.value().to_string(),
                    ));
                }
            }
        }
    }
    all_attrs.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    for (_, _, q, v) in &all_attrs {
        ctx.out.push(' ');
        ctx.out.push_str(q);
        ctx.out.push_str("=\"");
        escape_attr(&mut ctx.out, v);
        ctx.out.push('"');
    }
    ctx.out.push('>');
    let mut next_rendered = rendered.clone();
    for (p, u) in emit {
        next_rendered.insert(p, u);
    }
    (qname, next_rendered)
}

fn comment(ctx: &mut Ctx<'_, '_>, node: Node<'_, '_>) {
    ctx.out.push_str("<!--");
    ctx.out.push_str(node.text().unwrap_or(""));
    ctx.out.push_str("-->");
}

fn pi(ctx: &mut Ctx<'_, '_>, node: Node<'_, '_>) {
    if let Some(p) = node.pi() {
        ctx.out.push_str("<?");
        ctx.out.push_str(p.target);
        if let Some(v) = p.value
            && !v.is_empty()
        {
            ctx.out.push(' ');
            ctx.out.push_str(v);
        }
        ctx.out.push_str("?>");
    }
}

fn escape_text(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            _ => out.push(c),
        }
    }
}

fn escape_attr(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            _ => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c14n(xml: &str, method: Method, comments: bool) -> String {
        let doc = Document::parse(xml).unwrap();
        let opts = C14n {
            method,
            with_comments: comments,
        };
        String::from_utf8(canonicalize(&doc, None, None, &opts)).unwrap()
    }

    #[test]
    fn w3c_c14n_example_3_2_start_and_end_tags() {
        // From the C14N 1.0 recommendation, section 3.3 (start and end tags), simplified: no DTD.
        let input = r#"<doc>
   <e1   />
   <e2   ></e2>
   <e3   name = "elem3"   id="elem3"   />
   <e4   name="elem4"   id="elem4"   ></e4>
   <e5 a:attr="out" b:attr="sorted" attr2="all" attr="I'm"
      xmlns:b="http://www.ietf.org"
      xmlns:a="http://www.w3.org"
      xmlns="http://example.org"/>
   <e6 xmlns="" xmlns:a="http://www.w3.org">
      <e7 xmlns="http://www.ietf.org">
         <e8 xmlns="" xmlns:a="http://www.w3.org">
            <e9 xmlns="" xmlns:a="http://www.ietf.org"/>
         </e8>
      </e7>
   </e6>
</doc>"#;
        let expected = r#"<doc>
   <e1></e1>
   <e2></e2>
   <e3 id="elem3" name="elem3"></e3>
   <e4 id="elem4" name="elem4"></e4>
   <e5 xmlns="http://example.org" xmlns:a="http://www.w3.org" xmlns:b="http://www.ietf.org" attr="I'm" attr2="all" b:attr="sorted" a:attr="out"></e5>
   <e6 xmlns:a="http://www.w3.org">
      <e7 xmlns="http://www.ietf.org">
         <e8 xmlns="">
            <e9 xmlns:a="http://www.ietf.org"></e9>
         </e8>
      </e7>
   </e6>
</doc>"#;
        assert_eq!(c14n(input, Method::Inclusive10, false), expected);
    }

    #[test]
    fn comments_pis_and_escaping() {
        let input = "<?xml version=\"1.0\"?>\n<?pi data?>\n<!--c1-->\n<a t=\"x&#9;y&quot;\">A &amp; B &lt; &gt;<!--in--></a>\n<!--c2-->";
        assert_eq!(
            c14n(input, Method::Inclusive10, true),
            "<?pi data?>\n<!--c1-->\n<a t=\"x&#x9;y&quot;\">A &amp; B &lt; &gt;<!--in--></a>\n<!--c2-->"
        );
        assert_eq!(
            c14n(input, Method::Inclusive10, false),
            "<?pi data?>\n<a t=\"x&#x9;y&quot;\">A &amp; B &lt; &gt;</a>"
        );
    }

    #[test]
    fn exclusive_renders_only_used_namespaces_on_a_subtree() {
        let xml =
            r#"<r xmlns="urn:d" xmlns:a="urn:a" xmlns:b="urn:b"><a:x b:at="1"><y/></a:x></r>"#;
        let doc = Document::parse(xml).unwrap();
        let x = doc.root_element().first_element_child().unwrap();
        let exc = C14n {
            method: Method::Exclusive(vec![]),
            with_comments: false,
        };
        assert_eq!(
            String::from_utf8(canonicalize(&doc, Some(x), None, &exc)).unwrap(),
            r#"<a:x xmlns:a="urn:a" xmlns:b="urn:b" b:at="1"><y xmlns="urn:d"></y></a:x>"#
        );
        let inc = C14n {
            method: Method::Inclusive10,
            with_comments: false,
        };
        assert_eq!(
            String::from_utf8(canonicalize(&doc, Some(x), None, &inc)).unwrap(),
            r#"<a:x xmlns="urn:d" xmlns:a="urn:a" xmlns:b="urn:b" b:at="1"><y></y></a:x>"#
        );
        let exc_default = C14n {
            method: Method::Exclusive(vec!["#default".into()]),
            with_comments: false,
        };
        assert_eq!(
            String::from_utf8(canonicalize(&doc, Some(x), None, &exc_default)).unwrap(),
            r#"<a:x xmlns="urn:d" xmlns:a="urn:a" xmlns:b="urn:b" b:at="1"><y></y></a:x>"#
        );
    }

    #[test]
    fn exclusion_of_a_subtree() {
        let xml = r#"<r><keep/><Signature xmlns="urn:s"><x/></Signature></r>"#;
        let doc = Document::parse(xml).unwrap();
        let sig = doc
            .descendants()
            .find(|n| n.has_tag_name("Signature"))
            .unwrap();
        let opts = C14n {
            method: Method::Inclusive10,
            with_comments: false,
        };
        assert_eq!(
            String::from_utf8(canonicalize(&doc, None, Some(sig.id()), &opts)).unwrap(),
            "<r><keep></keep></r>"
        );
    }
}

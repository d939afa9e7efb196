//! One pass over an invoice that checks XML 1.0 well-formedness (with namespaces) and picks up
//! the few fields pre-flight needs, without building a tree.
//!
//! The rules are those of a namespace-aware, non-validating parser with DTDs refused: one root
//! element; start and end tags that match; names made of XML name characters with at most one
//! colon; attribute values quoted, without `<`, unique per element by expanded name; prefixes
//! declared (`xml` is predefined for attributes, `xmlns` is reserved); references that are one of
//! the five predefined entities or a character reference to an XML character; comments without
//! `--`; no `]]>` in character data; only white space, comments and processing instructions
//! outside the root element. Which characters are XML characters is checked by
//! [`first_bad_char`] in the same pass as the discouraged code points, before this parser runs.
//!
//! Fields are found by path of local names from the root, taking the first matching child at
//! each step, and their text is the first run of character data (text, CDATA sections and
//! references) that opens the element, decoded.
//!
//! The parser keeps a stack of open elements and of namespace declarations, and one buffer for
//! the attributes of the tag at hand: memory is proportional to the nesting depth, not to the
//! document. Nothing here recurses, so depth cannot exhaust the call stack. Every step is linear
//! in the input but two, which are bounded: a tag's attributes are compared pairwise up to 8 and
//! sorted beyond, and at most [`MAX_BINDINGS`] namespace declarations may be in scope at once
//! (a limit of pre-flight, not of XML; invoices use a handful), so a prefix lookup costs at most
//! that many comparisons.

use std::borrow::Cow;

use memchr::{memchr, memchr2, memchr3, memmem};

const XML_URI: &str = "http://www.w3.org/XML/1998/namespace";
const XMLNS_URI: &str = "http://www.w3.org/2000/xmlns/";

/// Namespace declarations in scope at once. Invoices use a handful; the cap keeps the prefix
/// lookup of every element cheap on a hostile document.
const MAX_BINDINGS: usize = 256;

/// A character found by a scan, with its byte offset.
pub(crate) type CharHit = Option<(usize, char)>;

/// Paths of local names from the root, one per field.
pub(crate) type Paths = &'static [&'static [&'static str]];

/// Chooses the paths for a root element (namespace URI, local name).
pub(crate) type Select<'p> = &'p dyn Fn(Option<&str>, &str) -> Paths;

/// Where and why the document is not well-formed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct XmlError {
    /// Byte offset of the offending construct.
    pub offset: usize,
    /// What rule it breaks.
    pub message: String,
}

type Result<T> = std::result::Result<T, XmlError>;

fn fail<T>(offset: usize, message: impl Into<String>) -> Result<T> {
    Err(XmlError {
        offset,
        message: message.into(),
    })
}

/// A field found by its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    /// Byte offset of the element's `<`.
    pub start: usize,
    /// The decoded first run of character data in the element, if the element opens with one.
    pub text: Option<String>,
}

/// What the pass learned about a well-formed document.
#[derive(Debug)]
pub(crate) struct Outline<'a> {
    /// Namespace URI of the root element (`None`: no namespace).
    pub root_namespace: Option<Cow<'a, str>>,
    /// Local name of the root element.
    pub root_local: &'a str,
    /// Byte offset of the root element's `<`.
    pub root_start: usize,
    /// The first processing instruction (other than the XML declaration): offset and target.
    pub first_pi: Option<(usize, &'a str)>,
    /// One entry per path asked for, in the same order.
    pub found: Vec<Option<Found>>,
}

/// The first character that is not an XML 1.0 character (`#x9 | #xA | #xD | [#x20-#xD7FF] |
/// [#xE000-#xFFFD] | [#x10000-#x10FFFF]`) and the first discouraged code point, by byte offset.
pub(crate) fn first_bad_char(text: &str, discouraged: impl Fn(char) -> bool) -> (CharHit, CharHit) {
    let bytes = text.as_bytes();
    let mut non_xml = None;
    let mut i = 0;
    loop {
        // Skip the bytes that are printable ASCII or XML white space, 32 at a time where possible
        // (the test of a block has no early exit, so it compiles to vector instructions).
        let rest = bytes.get(i..).unwrap_or_default();
        let skip = rest
            .chunks_exact(32)
            .take_while(|c| c.iter().fold(true, |ok, &b| ok & plain(b)))
            .count()
            * 32;
        i += skip;
        let Some(off) = bytes
            .get(i..)
            .and_then(|r| r.iter().position(|&b| !plain(b)))
        else {
            return (non_xml, None);
        };
        i += off;
        let Some(c) = text.get(i..).and_then(|t| t.chars().next()) else {
            return (non_xml, None);
        };
        if discouraged(c) {
            return (non_xml, Some((i, c)));
        }
        if non_xml.is_none() && !is_xml_char(c) {
            non_xml = Some((i, c));
        }
        i += c.len_utf8();
    }
}

#[inline]
fn plain(b: u8) -> bool {
    (b.wrapping_sub(0x20) < 0x5F) | (b == b'\n') | (b == b'\t') | (b == b'\r')
}

/// ASCII name characters without the colon, by byte (bytes from 0x80 are decided by
/// [`name_char`] on the whole character).
const NAME_BYTE: [bool; 128] = {
    let mut t = [false; 128];
    let mut b = 0;
    while b < 128 {
        t[b] = (b as u8).is_ascii_alphanumeric() || matches!(b as u8, b'_' | b'-' | b'.');
        b += 1;
    }
    t
};

fn is_xml_char(c: char) -> bool {
    let u = c as u32;
    if u < 0x20 {
        return matches!(c, '\t' | '\n' | '\r');
    }
    u != 0xFFFE && u != 0xFFFF
}

#[inline]
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn name_start_char(c: char) -> bool {
    let u = c as u32;
    if u < 0x80 {
        return c.is_ascii_alphabetic() || c == '_' || c == ':';
    }
    matches!(u,
        0xC0..=0xD6
        | 0xD8..=0xF6
        | 0xF8..=0x2FF
        | 0x370..=0x37D
        | 0x37F..=0x1FFF
        | 0x200C..=0x200D
        | 0x2070..=0x218F
        | 0x2C00..=0x2FEF
        | 0x3001..=0xD7FF
        | 0xF900..=0xFDCF
        | 0xFDF0..=0xFFFD
        | 0x10000..=0xEFFFF)
}

fn name_char(c: char) -> bool {
    let u = c as u32;
    if u < 0x80 {
        return c == ':' || NAME_BYTE.get(u as usize).copied().unwrap_or(false);
    }
    name_start_char(c)
        || u == 0xB7
        || (0x300..=0x36F).contains(&u)
        || (0x203F..=0x2040).contains(&u)
}

/// A qualified name: prefix (possibly empty) and local part, both slices of the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct QName<'a> {
    prefix: &'a str,
    local: &'a str,
}

/// An open element.
struct Frame<'a> {
    name: QName<'a>,
    /// Index into `Parser::bindings` of this element's first namespace declaration.
    bindings_from: usize,
}

/// A namespace declaration in scope: prefix (`None`: the default namespace) and URI.
struct Binding<'a> {
    prefix: Option<&'a str>,
    uri: Cow<'a, str>,
}

/// An attribute of the tag being read, before its prefix is resolved.
struct PendingAttribute<'a> {
    name: QName<'a>,
    offset: usize,
}

/// Progress along one path: how many steps are matched by currently open elements.
#[derive(Clone, Copy, Default)]
struct Track {
    matched: usize,
    finished: bool,
}

struct Parser<'a, 'p> {
    text: &'a str,
    b: &'a [u8],
    i: usize,
    stack: Vec<Frame<'a>>,
    bindings: Vec<Binding<'a>>,
    attributes: Vec<PendingAttribute<'a>>,
    root: Option<(Option<Cow<'a, str>>, &'a str, usize)>,
    first_pi: Option<(usize, &'a str)>,
    select: Select<'p>,
    paths: Paths,
    tracks: Vec<Track>,
    /// Length of the longest path: deeper elements cannot match.
    deepest: usize,
    found: Vec<Option<Found>>,
    /// The path whose element is open and still opening with character data, and that data.
    capture: Option<(usize, Option<String>)>,
}

/// Check that `text` is a well-formed namespace-aware XML document without a DTD, and find the
/// fields at the paths `select` names for the root element (namespace URI, local name).
pub(crate) fn scan<'a>(text: &'a str, select: Select<'_>) -> Result<Outline<'a>> {
    let mut p = Parser {
        text,
        b: text.as_bytes(),
        i: 0,
        stack: Vec::with_capacity(32),
        bindings: Vec::with_capacity(8),
        attributes: Vec::with_capacity(8),
        root: None,
        first_pi: None,
        select,
        paths: &[],
        tracks: Vec::new(),
        deepest: 0,
        found: Vec::new(),
        capture: None,
    };
    p.document()?;
    let Some((root_namespace, root_local, root_start)) = p.root else {
        return fail(0, "no root element");
    };
    Ok(Outline {
        root_namespace,
        root_local,
        root_start,
        first_pi: p.first_pi,
        found: p.found,
    })
}

impl<'a> Parser<'a, '_> {
    #[inline]
    fn at_end(&self) -> bool {
        self.i >= self.b.len()
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    fn rest(&self) -> &'a [u8] {
        self.b.get(self.i..).unwrap_or_default()
    }

    #[inline]
    fn starts_with(&self, s: &[u8]) -> bool {
        self.rest().starts_with(s)
    }

    #[inline]
    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.i += 1;
        }
    }

    fn expect(&mut self, byte: u8, what: &str) -> Result<()> {
        match self.peek() {
            Some(b) if b == byte => {
                self.i += 1;
                Ok(())
            }
            Some(_) => fail(self.i, format!("expected {what}")),
            None => fail(
                self.i,
                format!("unexpected end of document, expected {what}"),
            ),
        }
    }

    fn slice(&self, from: usize, to: usize) -> &'a str {
        self.text.get(from..to).unwrap_or_default()
    }

    /// `prolog element Misc*`.
    fn document(&mut self) -> Result<()> {
        self.declaration()?;
        self.misc()?;
        self.skip_spaces();
        if self.starts_with(b"<!DOCTYPE") {
            return fail(self.i, "a document type declaration (DTD) is not allowed");
        }
        if self.peek() == Some(b'<') && self.start_tag()? {
            self.content()?;
        }
        self.misc()?;
        if !self.at_end() {
            return fail(
                self.i,
                if self.root.is_some() {
                    "only white space, comments and processing instructions may follow the root element"
                } else {
                    "expected the root element"
                },
            );
        }
        if !self.stack.is_empty() {
            return fail(
                self.b.len(),
                "unexpected end of document: the root element is not closed",
            );
        }
        Ok(())
    }

    /// The XML declaration, if the document starts with one.
    fn declaration(&mut self) -> Result<()> {
        if !self.starts_with(b"<?xml ") {
            return Ok(());
        }
        self.i += 5;
        self.declaration_spaces()?;
        if !self.starts_with(b"version") {
            return fail(self.i, "the XML declaration must start with `version`");
        }
        self.declaration_attribute()?;
        self.declaration_spaces()?;
        if self.starts_with(b"encoding") {
            self.declaration_attribute()?;
            self.declaration_spaces()?;
        }
        if self.starts_with(b"standalone") {
            self.declaration_attribute()?;
        }
        self.skip_spaces();
        if !self.starts_with(b"?>") {
            return fail(self.i, "expected `?>` to end the XML declaration");
        }
        self.i += 2;
        Ok(())
    }

    fn declaration_spaces(&mut self) -> Result<()> {
        if self.peek().is_some_and(is_space) {
            self.skip_spaces();
        } else if !self.starts_with(b"?>") && !self.at_end() {
            return fail(self.i, "expected white space in the XML declaration");
        }
        Ok(())
    }

    fn declaration_attribute(&mut self) -> Result<()> {
        self.qname()?;
        self.equals()?;
        let quote = self.quote()?;
        let end = memchr2(quote, b'<', self.rest())
            .ok_or_else(|| self.end_error("in the XML declaration"))?;
        self.i += end;
        self.expect(quote, "the closing quote")
    }

    /// `(Comment | PI | S)*`.
    fn misc(&mut self) -> Result<()> {
        while !self.at_end() {
            self.skip_spaces();
            if self.starts_with(b"<!--") {
                self.comment()?;
            } else if self.starts_with(b"<?") {
                self.pi()?;
            } else {
                break;
            }
        }
        Ok(())
    }

    fn end_error(&self, place: &str) -> XmlError {
        XmlError {
            offset: self.b.len(),
            message: format!("unexpected end of document {place}"),
        }
    }

    fn comment(&mut self) -> Result<()> {
        let start = self.i;
        self.i += 4;
        let len =
            memmem::find(self.rest(), b"-->").ok_or_else(|| self.end_error("in a comment"))?;
        let body = self.rest().get(..len).unwrap_or_default();
        if memmem::find(body, b"--").is_some() || body.last() == Some(&b'-') {
            return fail(start, "a comment must not contain `--`");
        }
        self.i += len + 3;
        Ok(())
    }

    fn pi(&mut self) -> Result<()> {
        let start = self.i;
        if self.starts_with(b"<?xml ") {
            return fail(
                start,
                "an XML declaration is only allowed at the very start",
            );
        }
        self.i += 2;
        let target = self.name()?;
        self.skip_spaces();
        let len = memmem::find(self.rest(), b"?>")
            .ok_or_else(|| self.end_error("in a processing instruction"))?;
        self.i += len + 2;
        if self.first_pi.is_none() {
            self.first_pi = Some((start, target));
        }
        Ok(())
    }

    fn cdata(&mut self) -> Result<()> {
        self.i += 9;
        let len = memmem::find(self.rest(), b"]]>")
            .ok_or_else(|| self.end_error("in a CDATA section"))?;
        let body = self.slice(self.i, self.i + len);
        self.i += len + 3;
        if let Some((_, text)) = &mut self.capture {
            push_newlines_normalized(text.get_or_insert_with(String::new), body);
        }
        Ok(())
    }

    /// `Name` (PI targets): a name start character, then name characters (colons allowed).
    fn name(&mut self) -> Result<&'a str> {
        let start = self.i;
        match self.text.get(start..).and_then(|t| t.chars().next()) {
            Some(c) if name_start_char(c) => self.i += c.len_utf8(),
            _ => return fail(start, "invalid name"),
        }
        self.skip_name_chars(true);
        Ok(self.slice(start, self.i))
    }

    /// Advance over name characters; colons only if `colons`.
    #[inline]
    fn skip_name_chars(&mut self, colons: bool) {
        loop {
            let run = self
                .rest()
                .iter()
                .position(|&b| !NAME_BYTE.get(usize::from(b)).copied().unwrap_or(false));
            let Some(run) = run else {
                self.i = self.b.len();
                return;
            };
            self.i += run;
            let Some(b) = self.peek() else { return };
            if b < 0x80 {
                if colons && b == b':' {
                    self.i += 1;
                    continue;
                }
                return;
            } else {
                match self.text.get(self.i..).and_then(|t| t.chars().next()) {
                    Some(c) if name_char(c) => self.i += c.len_utf8(),
                    _ => return,
                }
            }
        }
    }

    /// `QName`: name characters with at most one colon; the local part (and a non-empty prefix)
    /// must start with a name start character.
    fn qname(&mut self) -> Result<QName<'a>> {
        let start = self.i;
        self.skip_name_chars(false);
        let (prefix, local) = if self.peek() == Some(b':') {
            let prefix = self.slice(start, self.i);
            self.i += 1;
            let local_start = self.i;
            self.skip_name_chars(false);
            if self.peek() == Some(b':') {
                return fail(start, "a name may contain at most one colon");
            }
            (prefix, self.slice(local_start, self.i))
        } else {
            ("", self.slice(start, self.i))
        };
        let starts_well = |s: &str| s.chars().next().is_some_and(name_start_char);
        if (!prefix.is_empty() && !starts_well(prefix)) || !starts_well(local) {
            return fail(start, "invalid name");
        }
        Ok(QName { prefix, local })
    }

    fn equals(&mut self) -> Result<()> {
        self.skip_spaces();
        self.expect(b'=', "`=`")?;
        self.skip_spaces();
        Ok(())
    }

    fn quote(&mut self) -> Result<u8> {
        match self.peek() {
            Some(q @ (b'"' | b'\'')) => {
                self.i += 1;
                Ok(q)
            }
            Some(_) => fail(self.i, "expected a quote"),
            None => Err(self.end_error("in a tag")),
        }
    }

    /// A start tag or an empty-element tag; `true` if the element stays open.
    fn start_tag(&mut self) -> Result<bool> {
        let tag_start = self.i;
        self.i += 1;
        let name = self.qname()?;
        if name.prefix == "xmlns" {
            return fail(
                tag_start + 1,
                "the prefix `xmlns` must not be used for an element",
            );
        }
        let bindings_from = self.bindings.len();
        self.attributes.clear();
        let open = loop {
            let had_space = self.peek().is_some_and(is_space);
            self.skip_spaces();
            match self.peek() {
                None => return Err(self.end_error("in a start tag")),
                Some(b'/') => {
                    self.i += 1;
                    self.expect(b'>', "`>` after `/`")?;
                    break false;
                }
                Some(b'>') => {
                    self.i += 1;
                    break true;
                }
                Some(_) => {
                    if !had_space {
                        return fail(self.i, "expected white space before an attribute");
                    }
                    self.attribute(bindings_from)?;
                }
            }
        };
        // only the root's namespace is kept; the others are only checked
        let namespace = self.element_namespace(name, tag_start, self.stack.is_empty())?;
        self.check_attributes()?;
        self.entered(name, namespace, tag_start, open, bindings_from);
        Ok(open)
    }

    /// One attribute of the tag whose own namespace declarations start at `own_from`.
    fn attribute(&mut self, own_from: usize) -> Result<()> {
        let offset = self.i;
        let name = self.qname()?;
        self.equals()?;
        let quote = self.quote()?;
        let value_start = self.i;
        let len = memchr2(quote, b'<', self.rest())
            .ok_or_else(|| self.end_error("in an attribute value"))?;
        self.i += len;
        if self.peek() != Some(quote) {
            return fail(self.i, "`<` is not allowed in an attribute value");
        }
        let raw = self.slice(value_start, self.i);
        self.i += 1;
        let is_declaration = name.prefix == "xmlns" || name.local == "xmlns";
        if !is_declaration {
            // only validated: the value itself is not needed
            validate_references(raw, value_start)?;
            self.attributes.push(PendingAttribute { name, offset });
            return Ok(());
        }
        let uri = normalize_attribute(raw, value_start)?;
        if name.prefix == "xmlns" {
            if uri == XMLNS_URI {
                return fail(offset, "the `xmlns` namespace URI must not be declared");
            }
            let is_xml_uri = uri == XML_URI;
            if name.local == "xml" {
                if !is_xml_uri {
                    return fail(offset, "the prefix `xml` is bound to the wrong URI");
                }
            } else if is_xml_uri {
                return fail(offset, "the `xml` namespace URI is bound to another prefix");
            }
            if self
                .bindings
                .get(own_from..)
                .unwrap_or_default()
                .iter()
                .any(|b| b.prefix == Some(name.local))
            {
                return fail(
                    offset,
                    format!("the prefix `{}` is declared twice", name.local),
                );
            }
            if !is_xml_uri {
                self.declare(
                    Binding {
                        prefix: Some(name.local),
                        uri,
                    },
                    offset,
                )?;
            }
        } else {
            if uri == XML_URI {
                return fail(
                    offset,
                    "the `xml` namespace URI cannot be the default namespace",
                );
            }
            if uri == XMLNS_URI {
                return fail(offset, "the `xmlns` namespace URI must not be declared");
            }
            let own = self.bindings.get(own_from..).unwrap_or_default();
            if !own.iter().any(|b| b.prefix.is_none()) {
                self.declare(Binding { prefix: None, uri }, offset)?;
            }
        }
        Ok(())
    }

    /// The namespace URI of `prefix` (`""`: the default namespace) in scope at the tag being
    /// read. An element holds at most one declaration per prefix (a second default namespace
    /// declaration is not recorded: the first one wins), so the last declaration of the prefix
    /// is the innermost one.
    fn lookup(&self, prefix: &str) -> Option<&Cow<'a, str>> {
        let want = (!prefix.is_empty()).then_some(prefix);
        self.bindings
            .iter()
            .rev()
            .find(|b| b.prefix == want)
            .map(|b| &b.uri)
    }

    fn declare(&mut self, binding: Binding<'a>, offset: usize) -> Result<()> {
        if self.bindings.len() >= MAX_BINDINGS {
            return fail(
                offset,
                format!(
                    "more than {MAX_BINDINGS} namespace declarations in scope (a pre-flight limit)"
                ),
            );
        }
        self.bindings.push(binding);
        Ok(())
    }

    fn element_namespace(
        &self,
        name: QName<'a>,
        tag_start: usize,
        keep: bool,
    ) -> Result<Option<Cow<'a, str>>> {
        match self.lookup(name.prefix) {
            Some(uri) => Ok(keep.then(|| uri.clone())),
            None if name.prefix.is_empty() => Ok(None),
            None => fail(
                tag_start + 1,
                format!("the prefix `{}` is not declared", name.prefix),
            ),
        }
    }

    /// Resolve the prefixes of the tag's attributes and refuse two with one expanded name.
    fn check_attributes(&self) -> Result<()> {
        let n = self.attributes.len();
        if n == 0 {
            return Ok(());
        }
        if n == 1 {
            // nothing to compare with: only the prefix must be declared
            return match self.attributes.first() {
                Some(a)
                    if !matches!(a.name.prefix, "" | "xml")
                        && self.lookup(a.name.prefix).is_none() =>
                {
                    fail(
                        a.offset,
                        format!("the prefix `{}` is not declared", a.name.prefix),
                    )
                }
                _ => Ok(()),
            };
        }
        let mut expanded: Vec<(Option<&str>, &str, usize)> = Vec::with_capacity(n);
        for a in &self.attributes {
            let uri = match a.name.prefix {
                "" => None,
                "xml" => Some(XML_URI),
                p => match self.lookup(p) {
                    Some(uri) => Some(uri.as_ref()),
                    None => return fail(a.offset, format!("the prefix `{p}` is not declared")),
                },
            };
            expanded.push((uri, a.name.local, a.offset));
        }
        let duplicate = if n <= 8 {
            (1..n).find(|&j| {
                expanded
                    .get(..j)
                    .unwrap_or_default()
                    .iter()
                    .any(|e| (e.0, e.1) == (expanded[j].0, expanded[j].1))
            })
        } else {
            let mut sorted: Vec<usize> = (0..n).collect();
            sorted.sort_by(|&x, &y| {
                (expanded[x].0, expanded[x].1, x).cmp(&(expanded[y].0, expanded[y].1, y))
            });
            sorted
                .windows(2)
                .filter(|w| {
                    (expanded[w[0]].0, expanded[w[0]].1) == (expanded[w[1]].0, expanded[w[1]].1)
                })
                .map(|w| w[1])
                .min()
        };
        match duplicate.and_then(|j| expanded.get(j)) {
            Some(e) => fail(e.2, format!("the attribute `{}` is given twice", e.1)),
            None => Ok(()),
        }
    }

    /// Record an element just read from its start tag: the root chooses the paths, the others
    /// advance them; an empty element is left at once.
    fn entered(
        &mut self,
        name: QName<'a>,
        namespace: Option<Cow<'a, str>>,
        tag_start: usize,
        open: bool,
        bindings_from: usize,
    ) {
        let depth = self.stack.len();
        if depth == 0 {
            self.paths = (self.select)(namespace.as_deref(), name.local);
            self.tracks = vec![Track::default(); self.paths.len()];
            self.found = vec![None; self.paths.len()];
            self.deepest = self.paths.iter().map(|p| p.len()).max().unwrap_or(0);
            self.root = Some((namespace, name.local, tag_start));
        } else if depth <= self.deepest {
            for (t, path) in self.paths.iter().enumerate() {
                let Some(track) = self.tracks.get_mut(t) else {
                    continue;
                };
                if track.finished
                    || track.matched + 1 != depth
                    || path.get(track.matched) != Some(&name.local)
                {
                    continue;
                }
                track.matched += 1;
                if track.matched == path.len() {
                    track.finished = true;
                    if let Some(slot) = self.found.get_mut(t) {
                        *slot = Some(Found {
                            start: tag_start,
                            text: None,
                        });
                    }
                    if open {
                        self.capture = Some((t, None));
                    }
                }
            }
        }
        if open {
            self.stack.push(Frame {
                name,
                bindings_from,
            });
        } else {
            self.bindings.truncate(bindings_from);
            self.left(depth);
        }
    }

    /// An element at `depth` is closed: a path whose matched chain ran through it ends there
    /// (only the first matching child counts).
    fn left(&mut self, depth: usize) {
        if depth == 0 {
            return;
        }
        for track in &mut self.tracks {
            if !track.finished && track.matched >= depth {
                track.finished = true;
            }
        }
    }

    /// Anything but character data ends the run a field's text is taken from.
    fn end_capture(&mut self) {
        if let Some((t, text)) = self.capture.take()
            && let Some(Some(found)) = self.found.get_mut(t)
        {
            found.text = text;
        }
    }

    /// The content of the root element, up to and including its end tag.
    fn content(&mut self) -> Result<()> {
        while !self.stack.is_empty() {
            match self.peek() {
                None => {
                    return fail(
                        self.b.len(),
                        "unexpected end of document: the root element is not closed",
                    );
                }
                Some(b'<') => match self.b.get(self.i + 1) {
                    Some(b'!') if self.starts_with(b"<![CDATA[") => self.cdata()?,
                    Some(b'!') if self.starts_with(b"<!--") => {
                        self.end_capture();
                        self.comment()?;
                    }
                    Some(b'?') => {
                        self.end_capture();
                        self.pi()?;
                    }
                    Some(b'/') => {
                        self.end_capture();
                        self.end_tag()?;
                    }
                    Some(b'!') | None => return fail(self.i, "unknown markup"),
                    Some(_) => {
                        self.end_capture();
                        self.start_tag()?;
                    }
                },
                Some(_) => self.text()?,
            }
        }
        Ok(())
    }

    fn end_tag(&mut self) -> Result<()> {
        let start = self.i;
        self.i += 2;
        let name = self.qname()?;
        self.skip_spaces();
        self.expect(b'>', "`>` to end the end tag")?;
        let Some(frame) = self.stack.pop() else {
            return fail(start, "an end tag without a start tag");
        };
        if !same(frame.name.prefix, name.prefix) || !same(frame.name.local, name.local) {
            return fail(
                start,
                format!(
                    "the end tag </{}> does not match the start tag <{}>",
                    display(name),
                    display(frame.name)
                ),
            );
        }
        self.bindings.truncate(frame.bindings_from);
        self.left(self.stack.len());
        Ok(())
    }

    /// Character data up to the next `<`.
    fn text(&mut self) -> Result<()> {
        let start = self.i;
        // one search for the end and for the two characters that need a closer look
        let mut references = false;
        let mut at = start;
        loop {
            let rest = self.b.get(at..).unwrap_or_default();
            match memchr3(b'<', b'&', b'>', rest) {
                None => {
                    at = self.b.len();
                    break;
                }
                Some(k) => {
                    at += k;
                    match self.b.get(at) {
                        Some(b'&') => references = true,
                        Some(b'>') if at >= start + 2 && self.b.get(at - 2..at) == Some(b"]]") => {
                            return fail(at - 2, "`]]>` is not allowed in character data");
                        }
                        Some(b'>') => {}
                        _ => break,
                    }
                    at += 1;
                }
            }
        }
        let raw = self.slice(start, at);
        self.i = at;
        if let Some((_, text)) = &mut self.capture {
            decode_text(raw, start, text.get_or_insert_with(String::new))
        } else if references {
            validate_references(raw, start)
        } else {
            Ok(())
        }
    }
}

/// Whether two (short) names are equal: a branch-free reduction over the bytes, which the
/// compiler neither turns into a call to the C library's `memcmp` (a call per end tag was an
/// eighth of the pre-flight time) nor splits into early exits.
#[inline]
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

fn display(name: QName<'_>) -> String {
    if name.prefix.is_empty() {
        name.local.to_owned()
    } else {
        format!("{}:{}", name.prefix, name.local)
    }
}

/// A reference at the start of `raw` (which starts with `&`): the character it stands for and
/// its length in bytes. `offset` is the document offset of `raw`, for the error.
fn reference(raw: &str, offset: usize) -> Result<(char, usize)> {
    let b = raw.as_bytes();
    let malformed = || {
        fail(
            offset,
            "malformed reference: expected `&name;`, `&#digits;` or `&#xhex;` naming an XML character",
        )
    };
    let (c, end) = if b.get(1) == Some(&b'#') {
        let (from, radix) = if b.get(2) == Some(&b'x') {
            (3, 16)
        } else {
            (2, 10)
        };
        let digits = b
            .get(from..)
            .unwrap_or_default()
            .iter()
            .take_while(|d| {
                if radix == 16 {
                    d.is_ascii_hexdigit()
                } else {
                    d.is_ascii_digit()
                }
            })
            .count();
        let Some(n) = raw
            .get(from..from + digits)
            .and_then(|d| u32::from_str_radix(d, radix).ok())
        else {
            return malformed();
        };
        let c = char::from_u32(n).unwrap_or('\u{FFFD}');
        if !is_xml_char(c) {
            return malformed();
        }
        (c, from + digits)
    } else {
        let mut chars = raw.get(1..).unwrap_or_default().char_indices();
        match chars.next() {
            Some((_, c)) if name_start_char(c) => {}
            _ => return malformed(),
        }
        let end = chars
            .find(|(_, c)| !name_char(*c))
            .map_or(raw.len(), |(i, _)| i + 1);
        let name = raw.get(1..end).unwrap_or_default();
        if b.get(end) != Some(&b';') {
            return malformed();
        }
        let c = match name {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "apos" => '\'',
            "quot" => '"',
            _ => {
                return fail(
                    offset,
                    format!(
                        "unknown entity `&{name};` (only the five predefined ones exist without a DTD)"
                    ),
                );
            }
        };
        (c, end)
    };
    if b.get(end) != Some(&b';') {
        return malformed();
    }
    Ok((c, end + 1))
}

/// Check every reference in `raw` (text or an attribute value at document offset `offset`).
fn validate_references(raw: &str, offset: usize) -> Result<()> {
    let mut at = 0;
    while let Some(k) = raw.get(at..).and_then(|r| memchr(b'&', r.as_bytes())) {
        let (_, len) = reference(raw.get(at + k..).unwrap_or_default(), offset + at + k)?;
        at += k + len;
    }
    Ok(())
}

/// Append character data to `out`: references resolved, line ends (`\r\n`, `\r`) as `\n`.
fn decode_text(raw: &str, offset: usize, out: &mut String) -> Result<()> {
    let mut at = 0;
    while let Some(k) = raw.get(at..).and_then(|r| memchr(b'&', r.as_bytes())) {
        push_newlines_normalized(out, raw.get(at..at + k).unwrap_or_default());
        let (c, len) = reference(raw.get(at + k..).unwrap_or_default(), offset + at + k)?;
        out.push(c);
        at += k + len;
    }
    push_newlines_normalized(out, raw.get(at..).unwrap_or_default());
    Ok(())
}

fn push_newlines_normalized(out: &mut String, s: &str) {
    if memchr(b'\r', s.as_bytes()).is_none() {
        out.push_str(s);
        return;
    }
    out.push_str(&s.replace("\r\n", "\n").replace('\r', "\n"));
}

/// An attribute value as a namespace URI: references resolved, white space characters as
/// spaces (`\r\n` as one).
fn normalize_attribute(raw: &str, offset: usize) -> Result<Cow<'_, str>> {
    let b = raw.as_bytes();
    if memchr3(b'&', b'\t', b'\n', b).is_none() && memchr(b'\r', b).is_none() {
        return Ok(Cow::Borrowed(raw));
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    let mut at = offset;
    while let Some(c) = rest.chars().next() {
        match c {
            '&' => {
                let (c, len) = reference(rest, at)?;
                out.push(c);
                rest = rest.get(len..).unwrap_or_default();
                at += len;
                continue;
            }
            '\r' if rest.as_bytes().get(1) == Some(&b'\n') => {}
            '\t' | '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
        rest = rest.get(c.len_utf8()..).unwrap_or_default();
        at += c.len_utf8();
    }
    Ok(Cow::Owned(out))
}

#[cfg(test)]
mod tests;

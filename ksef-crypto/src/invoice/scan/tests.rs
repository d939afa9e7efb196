//! The checker against roxmltree, an independent XML parser: on every document both must agree
//! on well-formedness and, for a well-formed one, on the root, the first processing instruction
//! and every field (start offset and text).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;

use super::{Found, scan};

const PATHS: &[&[&str]] = &[
    &["Zalacznik"],
    &["Podmiot1", "DaneIdentyfikacyjne", "NIP"],
    &["Fa", "P_1"],
    &["Fa", "P_2"],
    &["Fa", "RodzajFaktury"],
];

const BASE: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<Faktura xmlns=\"http://crd.gov.pl/wzor/2025/06/25/13775/\" xmlns:etd=\"http://x/etd\" \
xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n\
<!-- komentarz --><Naglowek><KodFormularza kodSystemowy=\"FA (3)\" wersjaSchemy='1-0E'>FA</KodFormularza></Naglowek>\n\
<Podmiot1><DaneIdentyfikacyjne><NIP>5265877635</NIP><Nazwa>A &amp; B &#x17C;</Nazwa></DaneIdentyfikacyjne></Podmiot1>\n\
<Fa><P_1>2026-02-01</P_1><P_2><![CDATA[FV/]]>1&#65;</P_2><RodzajFaktury>VAT</RodzajFaktury>\
<etd:X xsi:nil=\"true\" xml:lang=\"pl\"/></Fa>\n<Zalacznik><BlokDanych/></Zalacznik>\n</Faktura>\n";

/// Fragments that sit on the edges of the rules.
const TOKENS: &[&str] = &[
    "<",
    ">",
    "/",
    "&",
    ";",
    "=",
    "\"",
    "'",
    " ",
    "\n",
    "\r",
    "\r\n",
    "\t",
    ":",
    "!",
    "?",
    "-",
    "]]>",
    "<!--",
    "-->",
    "--",
    "<![CDATA[",
    "<?pi data?>",
    "<?xml ",
    "<?xml version=\"1.0\"?>",
    "&amp;",
    "&lt;",
    "&quot;",
    "&apos;",
    "&gt;",
    "&foo;",
    "&#0;",
    "&#9;",
    "&#x41;",
    "&#X41;",
    "&#xD800;",
    "&#x110000;",
    "&#99999999999;",
    "&#;",
    "&#13;",
    "&;",
    "&a:b;",
    "xmlns:a=\"u\"",
    " xmlns:a='u'",
    " xmlns=\"\"",
    " xmlns:xml=\"http://www.w3.org/XML/1998/namespace\"",
    " xmlns:xmlns=\"u\"",
    " xmlns:p=\"http://www.w3.org/2000/xmlns/\"",
    " a:b=\"1\"",
    " x=\"1\" x=\"2\"",
    " etd:x=\"1\" xsi:x=\"2\"",
    " xml:y=\"1\"",
    "<a:b/>",
    "<xml:b/>",
    "<xmlns:b/>",
    "<:a/>",
    "</:a>",
    "<a>",
    "</a>",
    "<Fa>",
    "</Fa>",
    "<P_1>",
    "</P_1>",
    "<P_2>x</P_2>",
    "<Zalacznik/>",
    "<b/>",
    "<!DOCTYPE a>",
    "ą",
    "·",
    "\u{300}",
    "é",
    "a",
    "1",
    "P_1",
    "Fa",
    "<Fa><P_2> y </P_2></Fa>",
    "<NIP>1</NIP>",
    "x:y:z",
    "<a b/>",
    "<a b=1/>",
    "<a\tb='<'/>",
];

/// What roxmltree says about the same document, in the checker's terms.
type Verdict = Option<(
    Option<String>,
    String,
    usize,
    Option<(usize, String)>,
    Vec<Option<Found>>,
)>;

fn reference(text: &str) -> Verdict {
    let opts = roxmltree::ParsingOptions {
        allow_dtd: false,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(text, opts).ok()?;
    let root = doc.root_element();
    let pi = doc
        .descendants()
        .find(|n| n.node_type() == roxmltree::NodeType::PI)
        .map(|n| (n.range().start, n.pi().unwrap().target.to_owned()));
    let found = PATHS
        .iter()
        .map(|path| {
            let node = path.iter().try_fold(root, |n, name| {
                n.children()
                    .find(|c| c.is_element() && c.tag_name().name() == *name)
            })?;
            Some(Found {
                start: node.range().start,
                text: node.text().map(str::to_owned),
            })
        })
        .collect();
    Some((
        root.tag_name().namespace().map(str::to_owned),
        root.tag_name().name().to_owned(),
        root.range().start,
        pi,
        found,
    ))
}

fn ours(text: &str) -> Verdict {
    let o = scan(text, &|_, _| PATHS).ok()?;
    Some((
        o.root_namespace.map(|n| n.into_owned()),
        o.root_local.to_owned(),
        o.root_start,
        o.first_pi.map(|(at, t)| (at, t.to_owned())),
        o.found,
    ))
}

/// `text` with every CR that does not start a CR LF pair turned into a LF.
fn lone_crs_as_lf(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(if c == '\r' && chars.peek() != Some(&'\n') {
            '\n'
        } else {
            c
        });
    }
    out
}

/// The verdicts agree. Characters that are not XML characters are checked before the scan (by
/// `first_bad_char`), so documents holding one are left out.
fn agree(text: &str) -> Result<(), TestCaseError> {
    if super::first_bad_char(text, |_| false).0.is_some() {
        return Ok(());
    }
    // roxmltree leaves a lone literal CR next to a reference unnormalised ("\r&amp;" and
    // "&amp;\r" keep the CR); XML 1.0 §2.11 makes every literal line end a LF, as the checker
    // does. The reference gets those LFs in its input (same length, so offsets agree); the
    // checker reads the text as is.
    let (r, o) = (reference(&lone_crs_as_lf(text)), ours(text));
    prop_assert_eq!(
        &r,
        &o,
        "document {:?}\nroxmltree error: {:?}\nours: {:?}",
        text,
        roxmltree::Document::parse(text)
            .err()
            .map(|e| e.to_string()),
        scan(text, &|_, _| PATHS).err()
    );
    Ok(())
}

#[test]
fn the_base_document_is_read_like_roxmltree_reads_it() {
    let o = ours(BASE).expect("well-formed");
    assert_eq!(o.1, "Faktura");
    assert_eq!(
        o.4[3].as_ref().and_then(|f| f.text.as_deref()),
        Some("FV/1A")
    );
    agree(BASE).unwrap();
}

#[test]
fn line_ends_are_normalised_and_a_character_reference_is_not() {
    let doc = "<Faktura><Fa><P_1>\r\n1\r&#13;2\r&amp;</P_1></Fa></Faktura>";
    let o = ours(doc).expect("well-formed");
    assert_eq!(
        o.4[2].as_ref().and_then(|f| f.text.as_deref()),
        Some("\n1\n\r2\n&")
    );
}

#[test]
fn known_edges_agree() {
    for doc in [
        "<a/>",
        "<a></a>",
        "<a>",
        "",
        "  ",
        "<a/><b/>",
        "<a/>text",
        "<!-- x --><a/><!-- y --><?p?>",
        "<a><!-- a - b --></a>",
        "<a><!-- a -- b --></a>",
        "<a><!-- a ---></a>",
        "<a>]]></a>",
        "<a>]]</a>",
        "<a x='1' x='2'/>",
        "<a xmlns:p='u' xmlns:q='u' p:x='1' q:x='2'/>",
        "<a xmlns:p='u' p:x='1' x='2'/>",
        "<p:a xmlns:p='u'/>",
        "<p:a/>",
        "<a xmlns='u' xmlns='v'/>",
        "<a xmlns:p='u' xmlns:p='v'/>",
        "<a><b xmlns:p='u'/><p:c/></a>",
        "<a xmlns:p='u'><b xmlns:p='v'><p:c/></b></a>",
        "<:a></:a>",
        "<:a></a>",
        "<a:/>",
        "<a::b/>",
        "<a b='&#x110000;'/>",
        "<a>&#xD800;</a>",
        "<a>&#0;</a>",
        "<a>&unknown;</a>",
        "<a>&amp</a>",
        "<?xml version='1.0'?><a/>",
        "<?xml version='1.0'encoding='UTF-8'?><a/>",
        "<?xml encoding='UTF-8'?><a/>",
        "<?xml version='1.0' standalone='yes'?><a/>",
        " <?xml version='1.0'?><a/>",
        "<?xml\tversion='1.0'?><a/>",
        "<!DOCTYPE a><a/>",
        "<a><![CDATA[x]]><![CDATA[]]></a>",
        "<a xml:lang='pl' xmlns:xml='http://www.w3.org/XML/1998/namespace'/>",
        "<xml:a/>",
        "<a b='x\r\ny'/>",
        "<Faktura><Fa><P_1>\r\n1\r</P_1></Fa></Faktura>",
        "<Faktura><Fa><P_1><!--c-->1</P_1></Fa></Faktura>",
        "<Faktura><Fa/><Fa><P_1>1</P_1></Fa></Faktura>",
        "<Faktura><Fa><P_1/><P_1>2</P_1></Fa></Faktura>",
        "<Faktura><Fa><X><P_1>1</P_1></X></Fa></Faktura>",
        "<Faktura><Fa><P_1>a<b/>c</P_1></Fa></Faktura>",
        "<Faktura><Zalacznik/></Faktura>",
        "<Faktura><Fa><P_1>a\r&amp;b</P_1></Fa></Faktura>",
        "<Faktura><Fa><P_1>&amp;\r</P_1></Fa></Faktura>",
    ] {
        agree(doc).unwrap();
    }
}

fn mutated() -> impl Strategy<Value = String> {
    let op = (
        0usize..4,
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        0usize..12,
    );
    prop::collection::vec(op, 1..5).prop_map(|ops| {
        let mut doc = BASE.to_owned();
        for (kind, at, token, len) in ops {
            let mut i = at.index(doc.len() + 1);
            while !doc.is_char_boundary(i) {
                i -= 1;
            }
            match kind {
                0 | 1 => doc.insert_str(i, TOKENS[token.index(TOKENS.len())]),
                2 => {
                    let mut j = (i + len).min(doc.len());
                    while !doc.is_char_boundary(j) {
                        j -= 1;
                    }
                    doc.replace_range(i..j, "");
                }
                _ => {
                    let mut j = (i + len).min(doc.len());
                    while !doc.is_char_boundary(j) {
                        j -= 1;
                    }
                    let piece = doc[i..j].to_owned();
                    doc.insert_str(j, &piece);
                }
            }
        }
        doc
    })
}

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS.to_vec()), 0..24).prop_map(|t| t.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn mutated_invoices_agree(doc in mutated()) {
        agree(&doc)?;
    }

    #[test]
    fn token_soup_agrees(doc in soup()) {
        agree(&doc)?;
    }

    #[test]
    fn wrapped_token_soup_agrees(doc in soup()) {
        agree(&format!("<Faktura xmlns:etd='u'><Fa><P_2>{doc}</P_2></Fa></Faktura>"))?;
    }
}

/// The generated documents are not all broken: a fair share is well-formed (so fields and
/// namespaces are compared too), a fair share is not.
#[test]
fn the_mutations_reach_both_verdicts() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
    );
    let (mut good, mut bad) = (0, 0);
    for _ in 0..2000 {
        let doc = mutated().new_tree(&mut runner).unwrap().current();
        agree(&doc).unwrap();
        if ours(&doc).is_some() {
            good += 1;
        } else {
            bad += 1;
        }
    }
    assert!(good > 100 && bad > 100, "well-formed {good}, not {bad}");
}

/// A document may keep at most `MAX_BINDINGS` namespace declarations in scope: a limit of
/// pre-flight (roxmltree has none this low), far above what an invoice uses.
#[test]
fn namespace_declarations_in_scope_are_capped() {
    let nested = |n: usize| {
        let open: String = (0..n).map(|i| format!("<e xmlns:p{i}='u{i}'>")).collect();
        format!("{open}{}", "</e>".repeat(n))
    };
    assert!(ours(&nested(super::MAX_BINDINGS)).is_some());
    agree(&nested(super::MAX_BINDINGS)).unwrap();
    let err = scan(&nested(super::MAX_BINDINGS + 1), &|_, _| PATHS).unwrap_err();
    assert!(
        err.message.contains("namespace declarations in scope"),
        "{err:?}"
    );
    // siblings release their declarations: many in a row, few at once, pass
    let siblings: String = (0..1000).map(|i| format!("<e xmlns:p{i}='u'/>")).collect();
    assert!(ours(&format!("<r>{siblings}</r>")).is_some());
}

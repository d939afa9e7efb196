//! `cargo xtask module-cycles CRATE_DIR...`: import cycles between the modules of a crate.
//!
//! A module is one source file below `CRATE_DIR/src` (`lib.rs` is `crate`, `a/mod.rs` and `a.rs`
//! are `a`, `a/b.rs` is `a::b`; inline `mod x { .. }` blocks belong to their file). Module `m`
//! depends on module `t` when `m` names a path into `t`: `crate::t::..`, `super::..`, `self::..`,
//! a child module by its bare name, or a name a `use` bound to a module. `mod x;` declarations
//! are not dependencies, `#[cfg(test)]` items are left out. The source is read as text (comments
//! and literals skipped), so macros and `#[path]` attributes are not followed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One dependency: `from` names a path into `to` at `file:line`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub file: String,
    pub line: usize,
    pub path: String,
}

/// Report lines for each crate (`crate_dirs` relative to `root`) and whether any has a cycle.
pub fn run(root: &Path, crate_dirs: &[String]) -> Result<(Vec<String>, bool), String> {
    if crate_dirs.is_empty() {
        return Err("module-cycles needs at least one CRATE_DIR".into());
    }
    let mut lines = Vec::new();
    let mut any = false;
    for dir in crate_dirs {
        let files = read_crate(&root.join(dir))?;
        let edges = dependencies(&files);
        let cycles = cycles(&edges);
        let modules = files.len();
        if cycles.is_empty() {
            lines.push(format!(
                "{dir}: no import cycles ({modules} modules, {} dependencies)",
                edges.len()
            ));
            continue;
        }
        any = true;
        lines.push(format!(
            "{dir}: {} import cycle(s) ({modules} modules, {} dependencies)",
            cycles.len(),
            edges.len()
        ));
        for (members, cycle) in cycles {
            lines.push(format!(
                "  {} modules depend on each other: {}",
                members.len(),
                members.join(", ")
            ));
            let names: Vec<&str> = cycle.iter().map(|e| e.from.as_str()).collect();
            let start = names.first().copied().unwrap_or_default();
            lines.push(format!(
                "  shortest cycle: {} -> {start}",
                names.join(" -> ")
            ));
            for e in &cycle {
                lines.push(format!(
                    "    {} -> {}  ({}:{} `{}`)",
                    e.from, e.to, e.file, e.line, e.path
                ));
            }
        }
    }
    Ok((lines, any))
}

/// A module file: module path (`a::b`, `crate` for the root) and its text.
#[derive(Debug, Clone)]
pub struct ModuleFile {
    pub module: String,
    pub file: String,
    pub text: String,
}

fn read_crate(dir: &Path) -> Result<Vec<ModuleFile>, String> {
    let src = dir.join("src");
    let root = if src.join("lib.rs").is_file() {
        "lib.rs"
    } else {
        "main.rs"
    };
    let mut out = Vec::new();
    let mut stack = vec![src.clone()];
    while let Some(d) = stack.pop() {
        let entries =
            std::fs::read_dir(&d).map_err(|e| format!("cannot read {}: {e}", d.display()))?;
        for entry in entries {
            let path = entry.map_err(|e| e.to_string())?.path();
            let rel = path.strip_prefix(&src).unwrap_or(&path).to_path_buf();
            if path.is_dir() {
                if rel != Path::new("bin") {
                    stack.push(path);
                }
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let Some(module) = module_of(&rel, root) else {
                continue;
            };
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            out.push(ModuleFile {
                module,
                file: format!("src/{}", rel.display()),
                text,
            });
        }
    }
    out.sort_by(|a, b| a.module.cmp(&b.module));
    Ok(out)
}

/// `a/b.rs` -> `a::b`; `a/mod.rs` -> `a`; the crate root -> `crate`; the other root -> none.
fn module_of(rel: &Path, root: &str) -> Option<String> {
    let parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    match parts.as_slice() {
        [one] if one == root => return Some("crate".into()),
        [one] if one == "lib.rs" || one == "main.rs" => return None,
        _ => {}
    }
    let mut segs: Vec<String> = parts;
    let last = segs.pop()?;
    if last != "mod.rs" {
        segs.push(last.trim_end_matches(".rs").to_string());
    }
    Some(segs.join("::"))
}

/// Every dependency between different module files.
pub fn dependencies(files: &[ModuleFile]) -> Vec<Edge> {
    let known: BTreeSet<&str> = files.iter().map(|f| f.module.as_str()).collect();
    let mut edges = Vec::new();
    for f in files {
        let tokens = tokenize(&f.text);
        let mut p = Parser {
            tokens: &tokens,
            pos: 0,
            known: &known,
            file: f,
            file_scope: Scope::new(segments(&f.module)),
            inline: Vec::new(),
            edges: Vec::new(),
        };
        p.run();
        for e in p.edges {
            if !edges.contains(&e) {
                edges.push(e);
            }
        }
    }
    edges
}

fn segments(module: &str) -> Vec<String> {
    if module == "crate" {
        Vec::new()
    } else {
        module.split("::").map(str::to_string).collect()
    }
}

fn join(segs: &[String]) -> String {
    if segs.is_empty() {
        "crate".into()
    } else {
        segs.join("::")
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    PathSep,
    Punct(char),
}

/// Identifiers and punctuation with their line; comments, literals and lifetimes are dropped.
fn tokenize(text: &str) -> Vec<(Tok, usize)> {
    let c: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0usize, 1usize);
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    while i < c.len() {
        let ch = at(i);
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && at(i + 1) == '/' {
            while i < c.len() && at(i) != '\n' {
                i += 1;
            }
        } else if ch == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < c.len() {
                if at(i) == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if at(i) == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    line += usize::from(at(i) == '\n');
                    i += 1;
                }
            }
        } else if ch == '"' {
            i = skip_string(&c, i + 1, 0, &mut line);
        } else if ch == '\'' {
            if at(i + 1) == '\\' {
                i += 2;
                while i < c.len() && at(i) != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(i + 2) == '\'' {
                i += 3;
            } else {
                i += 1; // a lifetime: its name is read as an identifier
            }
        } else if ch.is_alphabetic() || ch == '_' {
            let start = i;
            while at(i).is_alphanumeric() || at(i) == '_' {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            let raw = matches!(word.as_str(), "r" | "br" | "cr");
            if matches!(word.as_str(), "b" | "c" | "r" | "br" | "cr") && at(i) == '"' {
                i = skip_string(&c, i + 1, 0, &mut line);
            } else if raw && at(i) == '#' {
                let mut hashes = 0;
                while at(i) == '#' {
                    hashes += 1;
                    i += 1;
                }
                i = skip_string(&c, i + 1, hashes, &mut line);
            } else if word == "b" && at(i) == '\'' {
                i += 1;
                while i < c.len() && at(i) != '\'' {
                    i += if at(i) == '\\' { 2 } else { 1 };
                }
                i += 1;
            } else {
                out.push((Tok::Ident(word), line));
            }
        } else if ch == ':' && at(i + 1) == ':' {
            out.push((Tok::PathSep, line));
            i += 2;
        } else {
            out.push((Tok::Punct(ch), line));
            i += 1;
        }
    }
    out
}

/// Skips a string body from `i` (after the opening quote); raw when `hashes > 0` or... escapes
/// are honoured only in non-raw strings, which is all this reader needs.
fn skip_string(c: &[char], mut i: usize, hashes: usize, line: &mut usize) -> usize {
    while i < c.len() {
        match c[i] {
            '\\' if hashes == 0 => i += 2,
            '"' if c[i + 1..]
                .iter()
                .take(hashes)
                .filter(|h| **h == '#')
                .count()
                == hashes =>
            {
                return i + 1 + hashes;
            }
            ch => {
                *line += usize::from(ch == '\n');
                i += 1;
            }
        }
    }
    i
}

/// One module scope: its absolute path, its inline child modules and names `use` bound to modules.
struct Scope {
    path: Vec<String>,
    depth: usize,
    aliases: BTreeMap<String, Vec<String>>,
}

impl Scope {
    fn new(path: Vec<String>) -> Self {
        Self {
            path,
            depth: 0,
            aliases: BTreeMap::new(),
        }
    }
}

struct Parser<'a> {
    tokens: &'a [(Tok, usize)],
    pos: usize,
    known: &'a BTreeSet<&'a str>,
    file: &'a ModuleFile,
    file_scope: Scope,
    /// Inline `mod x { .. }` blocks the reader is inside, innermost last.
    inline: Vec<Scope>,
    edges: Vec<Edge>,
}

impl Parser<'_> {
    fn tok(&self, i: usize) -> Option<&Tok> {
        self.tokens.get(i).map(|t| &t.0)
    }

    fn ident(&self, i: usize) -> Option<&str> {
        match self.tok(i) {
            Some(Tok::Ident(s)) => Some(s),
            _ => None,
        }
    }

    fn line(&self, i: usize) -> usize {
        self.tokens.get(i).map_or(0, |t| t.1)
    }

    fn scope(&self) -> &Scope {
        self.inline.last().unwrap_or(&self.file_scope)
    }

    fn scope_mut(&mut self) -> &mut Scope {
        self.inline.last_mut().unwrap_or(&mut self.file_scope)
    }

    fn run(&mut self) {
        let mut depth = 0usize;
        while self.pos < self.tokens.len() {
            let i = self.pos;
            match self.tok(i) {
                Some(Tok::Punct('#')) if self.is_cfg_test(i) => {
                    self.skip_item(i);
                    continue;
                }
                Some(Tok::Punct('{')) => depth += 1,
                Some(Tok::Punct('}')) => {
                    depth = depth.saturating_sub(1);
                    if self.inline.last().is_some_and(|s| s.depth == depth) {
                        self.inline.pop();
                    }
                }
                Some(Tok::Ident(w)) if w == "mod" => {
                    if let (Some(name), Some(Tok::Punct('{'))) =
                        (self.ident(i + 1), self.tok(i + 2))
                    {
                        let mut path = self.scope().path.clone();
                        path.push(name.to_string());
                        let mut scope = Scope::new(path);
                        scope.depth = depth;
                        self.inline.push(scope);
                        self.pos = i + 2;
                        continue;
                    }
                }
                Some(Tok::Ident(w)) if w == "use" => {
                    self.pos = i + 1;
                    self.use_tree(Vec::new(), self.line(i));
                    continue;
                }
                Some(Tok::Ident(_))
                    if self.tok(i + 1) == Some(&Tok::PathSep)
                        && !matches!(
                            i.checked_sub(1).and_then(|p| self.tok(p)),
                            Some(Tok::PathSep | Tok::Punct('.' | '$'))
                        ) =>
                {
                    let mut segs = Vec::new();
                    let mut j = i;
                    while let Some(s) = self.ident(j) {
                        segs.push(s.to_string());
                        if self.tok(j + 1) != Some(&Tok::PathSep) {
                            break;
                        }
                        j += 2;
                    }
                    self.reference(&segs, self.line(i));
                    self.pos = j + 1;
                    continue;
                }
                _ => {}
            }
            self.pos += 1;
        }
    }

    /// `#[cfg(test)]` at `i`.
    fn is_cfg_test(&self, i: usize) -> bool {
        self.tok(i + 1) == Some(&Tok::Punct('['))
            && self.ident(i + 2) == Some("cfg")
            && self.tok(i + 3) == Some(&Tok::Punct('('))
            && self.ident(i + 4) == Some("test")
            && self.tok(i + 5) == Some(&Tok::Punct(')'))
    }

    /// Skips the attribute at `i` and the item it annotates.
    fn skip_item(&mut self, i: usize) {
        let mut j = i;
        let mut depth = 0usize;
        let mut opened = false;
        while let Some(t) = self.tok(j) {
            match t {
                Tok::Punct('{' | '[' | '(') => {
                    depth += 1;
                    opened |= *t == Tok::Punct('{');
                }
                Tok::Punct('}' | ']' | ')') => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 && opened {
                        break;
                    }
                }
                Tok::Punct(';') if depth == 0 => break,
                _ => {}
            }
            j += 1;
        }
        self.pos = j + 1;
    }

    /// Reads a use tree at `self.pos` with `prefix` before it.
    fn use_tree(&mut self, prefix: Vec<String>, line: usize) {
        let mut segs = prefix;
        loop {
            match self.tok(self.pos).cloned() {
                Some(Tok::Ident(s)) if s == "as" => {
                    let alias = self.ident(self.pos + 1).unwrap_or("_").to_string();
                    self.bind(&segs, &alias, line);
                    self.pos += 2;
                    return;
                }
                Some(Tok::Ident(s)) => {
                    segs.push(s);
                    self.pos += 1;
                }
                Some(Tok::PathSep) => self.pos += 1,
                Some(Tok::Punct('{')) => {
                    self.pos += 1;
                    while !matches!(self.tok(self.pos), None | Some(Tok::Punct('}'))) {
                        self.use_tree(segs.clone(), line);
                        if self.tok(self.pos) == Some(&Tok::Punct(',')) {
                            self.pos += 1;
                        }
                    }
                    self.pos += 1;
                    return;
                }
                Some(Tok::Punct('*')) => {
                    self.reference(&segs, line);
                    self.pos += 1;
                    return;
                }
                _ => {
                    let name = segs.last().cloned().unwrap_or_default();
                    self.bind(&segs, &name, line);
                    return;
                }
            }
        }
    }

    /// A `use` of `segs` under `name`: a dependency, and an alias when it names a module.
    fn bind(&mut self, segs: &[String], name: &str, line: usize) {
        let (segs, name) = match segs.split_last() {
            Some((last, init)) if last == "self" => {
                let own = if name == "self" {
                    init.last().map_or(name, String::as_str)
                } else {
                    name
                };
                (init.to_vec(), own)
            }
            _ => (segs.to_vec(), name),
        };
        if let Some(abs) = self.resolve(&segs)
            && self.known.contains(join(&abs).as_str())
        {
            self.scope_mut().aliases.insert(name.to_string(), abs);
        }
        self.reference(&segs, line);
    }

    /// The absolute path of `segs`, when it starts inside this crate.
    fn resolve(&self, segs: &[String]) -> Option<Vec<String>> {
        let scope = self.scope();
        let first = segs.first()?;
        let (mut base, rest) = match first.as_str() {
            "crate" => (Vec::new(), &segs[1..]),
            "self" => (scope.path.clone(), &segs[1..]),
            "super" => {
                let mut p = scope.path.clone();
                let mut k = 0;
                while segs.get(k).map(String::as_str) == Some("super") {
                    p.pop();
                    k += 1;
                }
                (p, &segs[k..])
            }
            name => {
                if let Some(abs) = scope.aliases.get(name) {
                    (abs.clone(), &segs[1..])
                } else {
                    let mut child = scope.path.clone();
                    child.push(name.to_string());
                    let inline = self.inline.iter().any(|s| s.path == child);
                    if !inline && !self.known.contains(join(&child).as_str()) {
                        return None;
                    }
                    (child, &segs[1..])
                }
            }
        };
        base.extend(rest.iter().cloned());
        Some(base)
    }

    /// Records the dependency on the module file `segs` leads into.
    fn reference(&mut self, segs: &[String], line: usize) {
        let Some(abs) = self.resolve(segs) else {
            return;
        };
        let target = (0..=abs.len())
            .rev()
            .map(|n| join(&abs[..n]))
            .find(|m| self.known.contains(m.as_str()));
        let Some(to) = target else { return };
        if to == self.file.module {
            return;
        }
        let edge = Edge {
            from: self.file.module.clone(),
            to,
            file: self.file.file.clone(),
            line,
            path: segs.join("::"),
        };
        if !self
            .edges
            .iter()
            .any(|e| e.from == edge.from && e.to == edge.to)
        {
            self.edges.push(edge);
        }
    }
}

/// Each group of modules that depend on each other (a strongly connected component of more than
/// one module), with one shortest cycle through its first module, as the edges around it.
pub fn cycles(edges: &[Edge]) -> Vec<(Vec<String>, Vec<Edge>)> {
    let mut nodes: Vec<&str> = edges
        .iter()
        .flat_map(|e| [e.from.as_str(), e.to.as_str()])
        .collect();
    nodes.sort_unstable();
    nodes.dedup();
    let succ = |n: &str| -> Vec<&Edge> { edges.iter().filter(|e| e.from == n).collect() };
    let reaches = |from: &str, to: &str| -> Option<Vec<Edge>> {
        // breadth-first: the shortest way back
        let mut prev: BTreeMap<&str, &Edge> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([from]);
        while let Some(n) = queue.pop_front() {
            for e in succ(n) {
                if e.to == to {
                    let mut path = vec![e.clone()];
                    let mut cur = n;
                    while cur != from {
                        let Some(p) = prev.get(cur) else { break };
                        path.push((*p).clone());
                        cur = p.from.as_str();
                    }
                    path.reverse();
                    return Some(path);
                }
                if e.to != from && !prev.contains_key(e.to.as_str()) {
                    prev.insert(e.to.as_str(), e);
                    queue.push_back(e.to.as_str());
                }
            }
        }
        None
    };
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    for n in nodes {
        if seen.contains(n) {
            continue;
        }
        if let Some(cycle) = reaches(n, n) {
            // the component: every module on a cycle through `n`
            let mut members: Vec<String> = vec![n.to_string()];
            for m in edges.iter().map(|e| e.from.as_str()) {
                if m != n
                    && !members.iter().any(|x| x == m)
                    && reaches(n, m).is_some()
                    && reaches(m, n).is_some()
                {
                    members.push(m.to_string());
                }
            }
            members.sort();
            seen.extend(members.iter().cloned());
            out.push((members, cycle));
        }
    }
    out
}

/// For tests: the dependencies of modules given as (module, text).
#[cfg(test)]
fn deps_of(files: &[(&str, &str)]) -> Vec<(String, String)> {
    let files: Vec<ModuleFile> = files
        .iter()
        .map(|(m, t)| ModuleFile {
            module: (*m).to_string(),
            file: format!("{m}.rs"),
            text: (*t).to_string(),
        })
        .collect();
    dependencies(&files)
        .into_iter()
        .map(|e| (e.from, e.to))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(a: &str, b: &str) -> (String, String) {
        (a.to_string(), b.to_string())
    }

    #[test]
    fn module_paths_of_files() {
        assert_eq!(
            module_of(Path::new("lib.rs"), "lib.rs").as_deref(),
            Some("crate")
        );
        assert_eq!(module_of(Path::new("main.rs"), "lib.rs"), None);
        assert_eq!(
            module_of(Path::new("a/mod.rs"), "lib.rs").as_deref(),
            Some("a")
        );
        assert_eq!(
            module_of(Path::new("a/b.rs"), "lib.rs").as_deref(),
            Some("a::b")
        );
    }

    #[test]
    fn paths_use_trees_aliases_and_children_are_dependencies() {
        let deps = deps_of(&[
            ("crate", "mod a; mod b; pub use b::X;"),
            (
                "a",
                "mod c; use crate::{b::{self, Y as Z}, d::*}; fn f() { c::g(); b::h(); }",
            ),
            ("a::c", "use super::super::d; fn g() { d::k(); }"),
            ("b", "fn h() { let s = \"crate::a::x\"; /* crate::a */ }"),
            ("d", "fn k() { std::mem::drop(1); x.crate_y(); }"),
        ]);
        for want in [
            pair("crate", "b"),
            pair("a", "b"),
            pair("a", "d"),
            pair("a", "a::c"),
            pair("a::c", "d"),
        ] {
            assert!(deps.contains(&want), "{want:?} missing from {deps:?}");
        }
        assert_eq!(deps.len(), 5, "{deps:?}");
    }

    #[test]
    fn test_items_and_inline_modules() {
        let deps = deps_of(&[
            (
                "a",
                "#[cfg(test)] mod tests { use crate::b::X; } #[cfg(test)] fn t() { crate::b::y(); }\n mod inner { use super::super::b::Z; } fn ok() {}",
            ),
            (
                "b",
                "fn y() { let c = '{'; let l: &'static str = \"}\"; crate::a::ok(); }",
            ),
        ]);
        assert_eq!(deps, vec![pair("a", "b"), pair("b", "a")]);
        let edges: Vec<Edge> = deps
            .iter()
            .map(|(f, t)| Edge {
                from: f.clone(),
                to: t.clone(),
                file: String::new(),
                line: 1,
                path: String::new(),
            })
            .collect();
        assert_eq!(cycles(&edges).len(), 1);
        assert!(cycles(&edges[..1]).is_empty());
    }
}

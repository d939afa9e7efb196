//! The drift snapshots, written in insta's file format so that `cargo test` (tests/spec_drift.rs)
//! and `cargo insta review` see exactly what `regen-spec` writes.

use std::path::{Path, PathBuf};

use crate::Surface;

/// The snapshot files and their contents for a surface: (path, expression, body).
pub fn expected(root: &Path, surface: &Surface) -> Vec<(PathBuf, &'static str, String)> {
    let dir = root.join("tests").join("snapshots");
    vec![
        (
            dir.join("spec_drift__api_surface.snap"),
            "surface.render_operations()",
            surface.render_operations(),
        ),
        (
            dir.join("spec_drift__api_schemas.snap"),
            "surface.render_schemas()",
            surface.render_schemas(),
        ),
    ]
}

/// A snapshot file's full text in insta's format.
pub fn file_text(expression: &str, body: &str) -> String {
    format!(
        "---\nsource: tests/spec_drift.rs\nexpression: {expression}\n---\n{}\n",
        body.trim_end()
    )
}

/// The body of an insta snapshot file (everything after the second `---` line).
pub fn body_of(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("---\n")?;
    let end = rest.find("\n---\n")?;
    Some(&rest[end + 5..])
}

/// A minimal line diff (`-` expected, `+` actual) of two texts, at most `limit` lines.
pub fn diff(expected: &str, actual: &str, limit: usize) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    // Longest common subsequence on lines: fine for snapshot sizes (a few thousand lines).
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while (i < n || j < m) && out.len() < limit {
        if i < n && j < m && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push(format!("+{}", b[j]));
            j += 1;
        } else {
            out.push(format!("-{}", a[i]));
            i += 1;
        }
    }
    out.join("\n")
}

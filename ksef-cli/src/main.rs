//! The `ksef` command-line tool (skeleton).
fn main() {}

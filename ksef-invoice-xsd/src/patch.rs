//! Text patches of xsd-parser's output, applied by the build script and tested here.
//!
//! xsd-parser 1.5.2 checks `length`/`minLength`/`maxLength` of strings with `String::len`, which
//! counts UTF-8 bytes; XSD counts characters, so a 150-character Polish name of `ż`s would be
//! refused. Inside every generated `validate_value(value: &String)` the length is counted in
//! characters instead.
//!
//! It also matches enumerations of decimal types (FA_RR's `TStawkaPodatku`: `6.5`, `7`) against the
//! text as written, so `7.0` (the same value) is refused. Their `deserialize_bytes` matches the
//! canonical form of the value instead (`crate::decimal::canonical`).

/// The signature the length checks live in (token text as `quote` prints it).
const STRING_VALIDATOR: &str =
    "pub fn validate_value (value : & String) -> Result < () , ValidateError > {";
const BYTE_LENGTH: &str = "value . len ()";
const CHAR_LENGTH: &str = "value . chars () . count ()";

/// Applies every patch to the generated code.
pub fn apply(code: &str) -> String {
    decimal_enums(&string_lengths(code))
}

/// Enumerations whose `validate_str` checks decimal digits (so their base is `xs:decimal`).
fn decimal_enum_names(code: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("pub enum ") {
        rest = &rest[i + "pub enum ".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let validator = format!(
            "impl {name} {{ pub fn validate_str (s : & str) -> Result < () , ValidateError > {{"
        );
        if let Some(v) = code.find(&validator) {
            let body = &code[v..];
            let body = &body[..body.find("Ok (())").unwrap_or(body.len())];
            if body.contains("fraction_digits") {
                names.push(name);
            }
        }
    }
    names
}

const MATCH_TEXT: &str = "match bytes {";
const MATCH_VALUE: &str = "match crate :: decimal :: canonical (s) . as_bytes () {";

fn decimal_enums(code: &str) -> String {
    let mut out = code.to_string();
    for name in decimal_enum_names(code) {
        let header = format!("impl DeserializeBytes for {name} {{");
        if let Some(start) = out.find(&header)
            && let Some(m) = out[start..].find(MATCH_TEXT)
        {
            let at = start + m;
            out.replace_range(at..at + MATCH_TEXT.len(), MATCH_VALUE);
        }
    }
    out
}

fn string_lengths(code: &str) -> String {
    let mut out = String::with_capacity(code.len() + 4096);
    let mut rest = code;
    while let Some(start) = rest.find(STRING_VALIDATOR) {
        let body_start = start + STRING_VALIDATOR.len();
        out.push_str(&rest[..body_start]);
        let body_end = rest[body_start..]
            .find("Ok (())")
            .map_or(rest.len(), |i| body_start + i);
        out.push_str(&rest[body_start..body_end].replace(BYTE_LENGTH, CHAR_LENGTH));
        rest = &rest[body_end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_lengths_count_characters_only_inside_string_validators() {
        let code = "pub fn validate_value (value : & String) -> Result < () , ValidateError > { if value . len () > 256usize { return Err (ValidateError :: MaxLength (256usize)) ; } Ok (()) } \
                    fn other (value : & Vec < u8 >) { value . len () ; }";
        let patched = apply(code);
        assert!(
            patched.contains("if value . chars () . count () > 256usize"),
            "{patched}"
        );
        assert!(
            patched.contains("fn other (value : & Vec < u8 >) { value . len () ; }"),
            "{patched}"
        );
        assert_eq!(apply("no validators here"), "no validators here");
    }

    #[test]
    fn decimal_enumerations_match_the_value() {
        let code = "pub enum TStawka { _65 , _7 , } impl TStawka { pub fn validate_str (s : & str) -> Result < () , ValidateError > { total_digits (s , 5usize) ? ; fraction_digits (s , 2usize) ? ; Ok (()) } } \
                    impl DeserializeBytes for TStawka { fn deserialize_bytes (helper : & mut DeserializeHelper , bytes : & [u8] ,) -> Result < Self , Error > { let s = buffer . trim () ; match bytes { b\"6.5\" => Ok (Self :: _65) , } } } \
                    pub enum TKod { _01 , } impl DeserializeBytes for TKod { fn deserialize_bytes () { match bytes { b\"01\" => x } } }";
        let patched = apply(code);
        assert!(
            patched.contains("match crate :: decimal :: canonical (s) . as_bytes () { b\"6.5\""),
            "{patched}"
        );
        assert!(patched.contains("match bytes { b\"01\""), "{patched}");
    }
}

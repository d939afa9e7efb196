//! Text patches of xsd-parser's output, applied by the build script and tested here.
//!
//! xsd-parser 1.5.2 checks `length`/`minLength`/`maxLength` of strings with `String::len`, which
//! counts UTF-8 bytes; XSD counts characters, so a 150-character Polish name of `ż`s would be
//! refused. Inside every generated `validate_value(value: &String)` the length is counted in
//! characters instead.

/// The signature the length checks live in (token text as `quote` prints it).
const STRING_VALIDATOR: &str =
    "pub fn validate_value (value : & String) -> Result < () , ValidateError > {";
const BYTE_LENGTH: &str = "value . len ()";
const CHAR_LENGTH: &str = "value . chars () . count ()";

/// Applies every patch to the generated code.
pub fn apply(code: &str) -> String {
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
}

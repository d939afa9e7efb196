//! XAdES
/// x
#[derive(Debug)]
pub struct AuthTokenRequest;
/// x
#[derive(Debug)]
pub enum ContextIdentifier {}
/// x
#[derive(Debug)]
pub enum SubjectIdentifierType {}

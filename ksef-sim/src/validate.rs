//! Checks of request fields shared by endpoint groups; each answers 21405 naming the field.

use crate::error::ApiError;
use crate::identifiers;

/// A NIP in `field`.
pub(crate) fn nip(field: &str, nip: &str) -> Result<(), ApiError> {
    if identifiers::is_valid_nip(nip) {
        Ok(())
    } else {
        Err(ApiError::validation(format!(
            "{field}: invalid NIP '{nip}'."
        )))
    }
}

/// A PESEL in `field`.
pub(crate) fn pesel(field: &str, pesel: &str) -> Result<(), ApiError> {
    if identifiers::is_valid_pesel(pesel) {
        Ok(())
    } else {
        Err(ApiError::validation(format!(
            "{field}: invalid PESEL '{pesel}'."
        )))
    }
}

/// A `description` of 5 to 256 characters.
pub(crate) fn description(d: &str) -> Result<(), ApiError> {
    if (5..=256).contains(&d.chars().count()) {
        Ok(())
    } else {
        Err(ApiError::validation(
            "description must have 5 to 256 characters.",
        ))
    }
}

//! Every bound the engine puts on its input, and the checks that apply them, in one place.

use crate::CoreError;

/// Rocket.Chat's default page size.
pub const DEFAULT_PAGE_SIZE: usize = 50;
/// Larger page sizes are capped to this, as in Rocket.Chat.
pub const MAX_PAGE_SIZE: usize = 100;
/// Longest name (visitor, user, department) in characters.
pub const MAX_NAME_LEN: usize = 256;
/// Longest first message of a conversation, in bytes.
pub const MAX_MESSAGE_LEN: usize = 64 * 1024;
/// Longest username, in bytes.
pub const MAX_USERNAME_LEN: usize = 64;
/// Longest visitor token, in bytes.
pub const MAX_TOKEN_LEN: usize = 256;
/// Longest email address, in bytes.
pub const MAX_EMAIL_LEN: usize = 254;
/// Most login tokens kept per user; the oldest is dropped beyond this.
pub const MAX_LOGIN_TOKENS: usize = 50;
/// Most targets in one list of routing rules (a department's, or the global default).
pub const MAX_ROUTING_TARGETS: usize = 16;
/// Most candidates a routing decision records: with a thousand agents, recording them all made
/// every routing event tens of kilobytes, in the log forever.
pub const MAX_RECORDED_CANDIDATES: usize = 20;
/// How much of a bad value an error message quotes, in characters.
pub const QUOTE_LIMIT: usize = 64;

/// A display name (visitor, user, department): 1 to [`MAX_NAME_LEN`] characters, not blank.
pub fn check_name(field: &'static str, value: &str) -> Result<(), CoreError> {
    if value.trim().is_empty() || value.chars().count() > MAX_NAME_LEN {
        return Err(CoreError::invalid(field, format!("must be 1 to {MAX_NAME_LEN} characters")));
    }
    Ok(())
}

/// Rocket.Chat's default `UTF8_User_Names_Validation`: `[0-9a-zA-Z-_.]+`.
pub fn check_username(username: &str) -> Result<(), CoreError> {
    let ok = !username.is_empty()
        && username.len() <= MAX_USERNAME_LEN
        && username.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(CoreError::invalid("username", format!("use 1 to {MAX_USERNAME_LEN} letters, digits, '-', '_' or '.'")))
    }
}

/// An email address as far as the engine cares: an `@`, no spaces, not too long.
pub fn check_email(email: &str) -> Result<(), CoreError> {
    if !email.contains('@') || email.len() > MAX_EMAIL_LEN || email.chars().any(char::is_whitespace) {
        return Err(CoreError::invalid("email", "not an email address"));
    }
    Ok(())
}

/// A visitor token: 1 to [`MAX_TOKEN_LEN`] visible characters.
pub fn check_token(token: &str) -> Result<(), CoreError> {
    if token.is_empty() || token.len() > MAX_TOKEN_LEN || token.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(CoreError::invalid("token", format!("must be 1 to {MAX_TOKEN_LEN} visible characters")));
    }
    Ok(())
}

/// A message body: at most [`MAX_MESSAGE_LEN`] bytes.
pub fn check_message(field: &'static str, message: &str) -> Result<(), CoreError> {
    if message.len() > MAX_MESSAGE_LEN {
        return Err(CoreError::invalid(field, format!("longer than {MAX_MESSAGE_LEN} bytes")));
    }
    Ok(())
}

/// `value`, cut to `max_chars` characters with an ellipsis: error messages that echo input
/// stay short.
pub fn truncate(value: &str, max_chars: usize) -> String {
    match value.char_indices().nth(max_chars) {
        None => value.to_owned(),
        Some((cut, _)) => format!("{}…", &value[..cut]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_keeps_short_text_and_cuts_long_text_on_a_character() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "abc…");
        assert_eq!(truncate("ééé", 2), "éé…");
    }

    #[test]
    fn checks_name_the_field() {
        assert!(matches!(check_name("name", " "), Err(CoreError::InvalidInput { field: "name", .. })));
        assert!(check_username("ana.maria_1").is_ok());
        assert!(check_username("ana maria").is_err());
        assert!(check_token(&"t".repeat(MAX_TOKEN_LEN + 1)).is_err());
        assert!(check_email("a@b").is_ok() && check_email("a b@c").is_err());
    }
}

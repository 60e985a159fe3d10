//! Channel names from a naming pattern, normalised the way Discord normalises text channel
//! names (lower case, spaces to dashes, most punctuation dropped), within Discord's 1..=100.

use std::collections::BTreeMap;

/// Discord's limit on a channel name's length, in characters.
pub const MAX_CHANNEL_NAME_CHARS: usize = twilight_validate::channel::CHANNEL_NAME_LENGTH_MAX;

/// The placeholders a naming pattern may use.
pub const PLACEHOLDERS: &[&str] = &["series_name", "event_name", "subject_id", "kind", "date"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NamingError {
    #[error("unknown placeholder {{{0}}}; known: {known}", known = PLACEHOLDERS.iter().map(|p| format!("{{{p}}}")).collect::<Vec<_>>().join(", "))]
    UnknownPlaceholder(String),
    #[error("unclosed '{{' in the pattern")]
    Unclosed,
    #[error("the name is empty once Discord's rules are applied")]
    Empty,
}

/// Checks a pattern's placeholders without rendering it.
pub fn check_pattern(pattern: &str) -> Result<(), NamingError> {
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or(NamingError::Unclosed)?;
        let name = &after[..close];
        if !PLACEHOLDERS.contains(&name) {
            return Err(NamingError::UnknownPlaceholder(name.to_owned()));
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

/// Fills the placeholders (missing fields render empty) and normalises the result into a
/// valid text channel name.
pub fn render(pattern: &str, fields: &BTreeMap<String, String>) -> Result<String, NamingError> {
    check_pattern(pattern)?;
    let mut filled = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        filled.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or(NamingError::Unclosed)?;
        filled.push_str(fields.get(&after[..close]).map(String::as_str).unwrap_or_default());
        rest = &after[close + 1..];
    }
    filled.push_str(rest);
    normalise_text_channel_name(&filled)
}

/// Discord's text channel rules: lower case; whitespace and separators become single dashes;
/// characters other than letters, digits, `-` and `_` are dropped; no leading/trailing dash.
pub fn normalise_text_channel_name(raw: &str) -> Result<String, NamingError> {
    let mut name = String::with_capacity(raw.len());
    for ch in raw.chars().flat_map(char::to_lowercase) {
        if ch.is_alphanumeric() || ch == '_' {
            name.push(ch);
        } else if (ch.is_whitespace() || ch == '-' || ch == '/' || ch == '.' || ch == ':') && !name.ends_with('-') {
            name.push('-');
        }
    }
    let trimmed: String = name.trim_matches('-').chars().take(MAX_CHANNEL_NAME_CHARS).collect();
    let trimmed = trimmed.trim_end_matches('-').to_owned();
    if trimmed.is_empty() { Err(NamingError::Empty) } else { Ok(trimmed) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn renders_and_normalises_like_discord() {
        let name = render(
            "{series_name} {event_name}",
            &fields(&[("series_name", "GT3 Sprint"), ("event_name", "Round 4: Spa!")]),
        )
        .expect("valid");
        assert_eq!(name, "gt3-sprint-round-4-spa");
        assert_eq!(normalise_text_channel_name("  Ünïcode  Räce  ").as_deref(), Ok("ünïcode-räce"));
        assert_eq!(render(&"x".repeat(150), &BTreeMap::new()).map(|n| n.chars().count()), Ok(100));
    }

    #[test]
    fn refuses_unknown_placeholders_and_empty_names() {
        assert_eq!(check_pattern("{track}"), Err(NamingError::UnknownPlaceholder("track".into())));
        assert_eq!(check_pattern("{event_name"), Err(NamingError::Unclosed));
        assert_eq!(render("!!!", &BTreeMap::new()), Err(NamingError::Empty));
    }
}

//! Identifiers and token comparison shared by the broker and the development
//! IdP. A leaf: it imports nothing from the crate.

/// A fresh SAML ID (an xs:ID: starts with `_`, then 32 hex digits).
pub fn new_id() -> String {
    format!("_{}", uuid::Uuid::new_v4().simple())
}

/// Constant-time comparison of two tokens.
pub fn tokens_equal(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    // The length of a token is not secret; its bytes are compared in constant time.
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_xml_ids_and_distinct() {
        let (a, b) = (new_id(), new_id());
        assert_ne!(a, b);
        assert!(a.starts_with('_') && a.len() == 33);
        assert!(a[1..].bytes().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn tokens_equal_compares_whole_tokens() {
        assert!(tokens_equal("abc", "abc"));
        assert!(!tokens_equal("abc", "abd"));
        assert!(!tokens_equal("abc", "ab"));
        assert!(!tokens_equal("", "a"));
        assert!(tokens_equal("", ""));
    }
}

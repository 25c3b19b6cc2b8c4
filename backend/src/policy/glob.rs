//! Role ARN patterns: `*` matches any run of characters (including none, and
//! including `/` and `:`), `?` matches exactly one character, everything else
//! matches itself ignoring ASCII case (IAM role names are unique regardless
//! of case, so this never confuses two roles).
//!
//! Besides matching, the linter needs two questions answered about patterns:
//! can a pattern match any valid role ARN at all ([`Pattern::can_match_role`]),
//! and does one pattern match everything another does ([`Pattern::covers`]).

use std::collections::HashSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Lit(u8),
    One,
    Star,
}

/// A compiled glob over ASCII-case-folded bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    toks: Vec<Tok>,
}

impl Pattern {
    pub fn new(text: &str) -> Self {
        let mut toks = Vec::with_capacity(text.len());
        for b in text.bytes() {
            match b {
                b'*' if toks.last() == Some(&Tok::Star) => {}
                b'*' => toks.push(Tok::Star),
                b'?' => toks.push(Tok::One),
                other => toks.push(Tok::Lit(other.to_ascii_lowercase())),
            }
        }
        Self {
            text: text.to_string(),
            toks,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn is_match(&self, s: &str) -> bool {
        // Iterative wildcard matching with single-star backtracking: linear
        // space, O(n*m) worst case, no recursion.
        let s = s.as_bytes();
        let p = &self.toks;
        let (mut i, mut j) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while i < s.len() {
            match p.get(j) {
                Some(Tok::Lit(c)) if *c == s[i].to_ascii_lowercase() => {
                    i += 1;
                    j += 1;
                }
                Some(Tok::One) => {
                    i += 1;
                    j += 1;
                }
                Some(Tok::Star) => {
                    star = Some((j, i));
                    j += 1;
                }
                _ => match star {
                    Some((sj, si)) => {
                        star = Some((sj, si + 1));
                        j = sj + 1;
                        i = si + 1;
                    }
                    None => return false,
                },
            }
        }
        p[j..].iter().all(|t| *t == Tok::Star)
    }

    /// Whether some valid IAM role ARN
    /// (`arn:aws…:iam::<12 digits>:role/<name>`) matches this pattern. With
    /// `account`, the ARN's account is fixed to it.
    pub fn can_match_role(&self, account: Option<&str>) -> bool {
        intersects(&self.toks, &role_template(account))
    }

    /// Whether some string matches both patterns and is a valid role ARN
    /// (approximately: the ARN shape is checked against each pattern
    /// separately, so this may say yes where the exact answer is no).
    pub fn overlaps(&self, other: &Pattern) -> bool {
        let t = role_template(None);
        intersects(&self.toks, &t)
            && intersects(&other.toks, &t)
            && intersects(&self.toks, &as_template(&other.toks))
    }

    /// Whether every string `other` matches is also matched by `self`.
    /// Sound but not complete: `true` is always right, `false` may be a
    /// miss for unusual pattern pairs.
    pub fn covers(&self, other: &Pattern) -> bool {
        covers(&self.toks, &other.toks)
    }
}

/// A character class in the ARN template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Any,
    Digit,
    /// Partition suffix after `aws`: `-us-gov`, `-cn`, …
    Partition,
    /// Characters IAM allows in a role path and name.
    Name,
}

impl Class {
    fn contains(self, b: u8) -> bool {
        match self {
            Class::Any => true,
            Class::Digit => b.is_ascii_digit(),
            Class::Partition => b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-',
            Class::Name => b.is_ascii_alphanumeric() || b"+=,.@_-/".contains(&b),
        }
    }
    /// `b` is already ASCII-lowercased; matching ignores case.
    fn contains_folded(self, b: u8) -> bool {
        self.contains(b) || self.contains(b.to_ascii_uppercase())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum T {
    Lit(u8),
    One(Class),
    Many(Class),
}

fn lits(s: &str) -> impl Iterator<Item = T> + '_ {
    s.bytes().map(|b| T::Lit(b.to_ascii_lowercase()))
}

fn role_template(account: Option<&str>) -> Vec<T> {
    let mut t: Vec<T> = lits("arn:aws").collect();
    t.push(T::Many(Class::Partition));
    t.extend(lits(":iam::"));
    match account {
        Some(a) => t.extend(lits(a)),
        None => t.extend(std::iter::repeat_n(T::One(Class::Digit), 12)),
    }
    t.extend(lits(":role/"));
    t.push(T::One(Class::Name));
    t.push(T::Many(Class::Name));
    t
}

fn as_template(toks: &[Tok]) -> Vec<T> {
    toks.iter()
        .map(|t| match t {
            Tok::Lit(c) => T::Lit(*c),
            Tok::One => T::One(Class::Any),
            Tok::Star => T::Many(Class::Any),
        })
        .collect()
}

/// Is there a string matched by both the glob `p` and the template `t`?
/// Breadth-first search over the product automaton.
fn intersects(p: &[Tok], t: &[T]) -> bool {
    let mut seen: HashSet<(usize, usize)> = HashSet::new();
    let mut todo = vec![(0usize, 0usize)];
    while let Some((i, j)) = todo.pop() {
        if !seen.insert((i, j)) {
            continue;
        }
        if i == p.len() && j == t.len() {
            return true;
        }
        // Moves that consume nothing.
        if p.get(i) == Some(&Tok::Star) {
            todo.push((i + 1, j));
        }
        if let Some(T::Many(_)) = t.get(j) {
            todo.push((i, j + 1));
        }
        // Moves that consume one character on both sides.
        let (Some(pt), Some(tt)) = (p.get(i), t.get(j)) else {
            continue;
        };
        let ni = if *pt == Tok::Star { i } else { i + 1 };
        let nj = if matches!(tt, T::Many(_)) { j } else { j + 1 };
        let compatible = match (pt, tt) {
            (Tok::Lit(a), T::Lit(b)) => a == b,
            (Tok::Lit(a), T::One(c) | T::Many(c)) => c.contains_folded(*a),
            (Tok::One | Tok::Star, _) => true,
        };
        if compatible {
            todo.push((ni, nj));
        }
    }
    false
}

/// Does the glob `d` match every string the glob `a` matches? A `*` in `a`
/// can only be absorbed by a `*` in `d`; a `?` in `a` by a `?` or `*`.
fn covers(d: &[Tok], a: &[Tok]) -> bool {
    // dp[j] = d[..i] can absorb a[..j]
    let mut dp = vec![false; a.len() + 1];
    dp[0] = true;
    for dt in d {
        let mut next = vec![false; a.len() + 1];
        for j in 0..=a.len() {
            next[j] = match dt {
                Tok::Star => dp[j] || (j > 0 && next[j - 1]),
                Tok::One => j > 0 && dp[j - 1] && a[j - 1] != Tok::Star,
                Tok::Lit(c) => j > 0 && dp[j - 1] && a[j - 1] == Tok::Lit(*c),
            };
        }
        dp = next;
    }
    dp[a.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matching() {
        let p = Pattern::new("arn:aws:iam::*:role/Dev*");
        assert!(p.is_match("arn:aws:iam::111111111111:role/Developer"));
        assert!(p.is_match("arn:aws:iam::111111111111:role/dev"));
        assert!(!p.is_match("arn:aws:iam::111111111111:role/Admin"));
        assert!(Pattern::new("*").is_match(""));
        assert!(Pattern::new("a?c").is_match("abc"));
        assert!(!Pattern::new("a?c").is_match("ac"));
        assert!(Pattern::new("*/Admin").is_match("arn:aws:iam::1:role/x/Admin"));
        assert!(!Pattern::new("*/Admin").is_match("arn:aws:iam::1:role/x/Admins"));
        assert!(Pattern::new("a*b*c").is_match("aXbYbZc"));
    }

    #[test]
    fn can_match_role() {
        assert!(Pattern::new("*").can_match_role(None));
        assert!(Pattern::new("*:role/Admin").can_match_role(None));
        assert!(Pattern::new("arn:aws-us-gov:iam::*").can_match_role(None));
        assert!(!Pattern::new("Admin").can_match_role(None));
        assert!(!Pattern::new("role/Admin*").can_match_role(None));
        assert!(!Pattern::new("arn:aws:iam::*:user/*").can_match_role(None));
        assert!(!Pattern::new("arn:aws:s3:::bucket/*").can_match_role(None));
        assert!(!Pattern::new("arn:aws:iam::12345:role/*").can_match_role(None));
        assert!(
            Pattern::new("arn:aws:iam::111111111111:role/*").can_match_role(Some("111111111111"))
        );
        assert!(
            !Pattern::new("arn:aws:iam::111111111111:role/*").can_match_role(Some("222222222222"))
        );
    }

    #[test]
    fn coverage() {
        let c = |d: &str, a: &str| Pattern::new(d).covers(&Pattern::new(a));
        assert!(c("*", "arn:aws:iam::*:role/Admin"));
        assert!(c("*:role/Admin", "arn:aws:iam::*:role/Admin"));
        assert!(c("arn:aws:iam::*:role/*", "arn:aws:iam::1?:role/A*"));
        assert!(c("ARN:aws:iam::1:role/a", "arn:aws:iam::1:role/A"));
        assert!(!c("arn:aws:iam::*:role/Admin", "arn:aws:iam::*:role/*"));
        assert!(!c("arn:aws:iam::1?:role/A", "arn:aws:iam::1*:role/A"));
    }

    #[test]
    fn overlap() {
        let o = |a: &str, b: &str| Pattern::new(a).overlaps(&Pattern::new(b));
        assert!(o("*:role/Admin", "arn:aws:iam::111111111111:role/*"));
        assert!(!o("*:role/Admin", "*:role/Dev"));
        assert!(!o("Admin", "*"));
    }
}

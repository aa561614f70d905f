//! `*` / `?` wildcard patterns, compiled once.
//!
//! `*` matches any run of characters (also none), `?` exactly one character. There is no
//! escape. Patterns without wildcards and patterns whose only wildcard is one trailing `*`
//! (`kms:GenerateDataKey*`) get fast paths.

/// A compiled wildcard pattern. With `fold` the pattern is stored lowercased and matched
/// case-insensitively (action names); otherwise exactly (resources, `StringLike`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    kind: Kind,
    fold: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// `*`
    Any,
    Exact(String),
    /// `abc*` with an ASCII prefix.
    Prefix(String),
    Glob(String),
}

impl Pattern {
    pub fn new(pattern: &str, fold: bool) -> Self {
        let p = if fold {
            pattern.to_lowercase()
        } else {
            pattern.to_owned()
        };
        let wild = |c: char| c == '*' || c == '?';
        let kind = if p == "*" {
            Kind::Any
        } else if !p.contains(wild) && (p.is_ascii() || !fold) {
            Kind::Exact(p)
        } else if p.is_ascii() && p.ends_with('*') && !p[..p.len() - 1].contains(wild) {
            let mut p = p;
            p.pop();
            Kind::Prefix(p)
        } else {
            Kind::Glob(p)
        };
        Self { kind, fold }
    }

    /// Like [`matches`](Self::matches) for a text the caller already lowercased (a folded
    /// pattern is lowercase, so plain byte comparison suffices).
    pub fn matches_lowercased(&self, text: &str) -> bool {
        match &self.kind {
            Kind::Any => true,
            Kind::Exact(p) => text == p,
            Kind::Prefix(p) => text.as_bytes().starts_with(p.as_bytes()),
            Kind::Glob(p) => glob_match(p, text, false),
        }
    }

    pub fn matches(&self, text: &str) -> bool {
        match &self.kind {
            Kind::Any => true,
            Kind::Exact(p) => {
                if self.fold {
                    text.eq_ignore_ascii_case(p)
                } else {
                    text == p
                }
            }
            Kind::Prefix(p) => text.as_bytes().get(..p.len()).is_some_and(|head| {
                if self.fold {
                    head.eq_ignore_ascii_case(p.as_bytes())
                } else {
                    head == p.as_bytes()
                }
            }),
            Kind::Glob(p) => glob_match(p, text, self.fold),
        }
    }
}

/// Whether `text` matches `pattern` (`pattern` already lowercased when `fold`).
pub(crate) fn glob_match(pattern: &str, text: &str, fold: bool) -> bool {
    if pattern.is_ascii() && text.is_ascii() {
        let eq = |p: u8, t: u8| {
            if fold {
                p == t.to_ascii_lowercase()
            } else {
                p == t
            }
        };
        glob(pattern.as_bytes(), text.as_bytes(), b'*', b'?', eq)
    } else {
        let p: Vec<char> = pattern.chars().collect();
        let t: Vec<char> = text.chars().collect();
        let eq = |p: char, t: char| p == t || (fold && t.to_lowercase().eq(std::iter::once(p)));
        glob(&p, &t, '*', '?', eq)
    }
}

/// Iterative matcher with one backtrack point (the last `*`): O(len(p) · len(t)) worst case.
fn glob<T: Copy + PartialEq>(p: &[T], t: &[T], star: T, any: T, eq: impl Fn(T, T) -> bool) -> bool {
    let (mut pi, mut ti) = (0, 0);
    let mut back: Option<(usize, usize)> = None;
    while ti < t.len() {
        match (p.get(pi), t.get(ti)) {
            (Some(&c), _) if c == star => {
                back = Some((pi, ti));
                pi += 1;
            }
            (Some(&c), Some(&x)) if c == any || eq(c, x) => {
                pi += 1;
                ti += 1;
            }
            _ => match back {
                Some((bp, bt)) => {
                    pi = bp + 1;
                    ti = bt + 1;
                    back = Some((bp, bt + 1));
                }
                None => return false,
            },
        }
    }
    p[pi.min(p.len())..].iter().all(|&c| c == star)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_paths_and_glob() {
        let m = |p: &str, t: &str| Pattern::new(p, false).matches(t);
        assert!(m("*", ""));
        assert!(m("abc", "abc"));
        assert!(!m("abc", "abcd"));
        assert!(m("ab*", "ab"));
        assert!(m("ab*", "abzzz"));
        assert!(!m("ab*", "a"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("*b*d", "abcbd"));
        assert!(!m("*b*d", "abcbe"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(m("a**", "a"));
        assert!(m("?\u{e9}*", "x\u{e9}yz"));
        assert!(m("?", "\u{e9}"), "`?` matches one character, not one byte");
        assert!(!m("??", "\u{e9}"));
    }

    #[test]
    fn folded_patterns_ignore_case() {
        let m = |p: &str, t: &str| Pattern::new(p, true).matches(t);
        assert!(m("kms:Decrypt", "KMS:decrypt"));
        assert!(m(
            "kms:GenerateDataKey*",
            "kms:generatedatakeywithoutplaintext"
        ));
        assert!(m("kms:ReEncrypt?rom", "kms:REENCRYPTFROM"));
        assert!(!m("kms:Decrypt", "kms:Encrypt"));
        assert!(m("\u{c9}*", "\u{e9}t\u{e9}"));
        assert!(!Pattern::new("Abc", false).matches("abc"));
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    /// The textbook recursive definition, as the reference.
    fn reference(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('*', rest)) => reference(rest, t) || (!t.is_empty() && reference(p, &t[1..])),
            Some(('?', rest)) => !t.is_empty() && reference(rest, &t[1..]),
            Some((c, rest)) => t.first() == Some(c) && reference(rest, &t[1..]),
        }
    }

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn agrees_with_reference(p in "[ab*?]{0,8}", t in "[ab]{0,10}") {
            prop_assert_eq!(Pattern::new(&p, false).matches(&t), reference(&chars(&p), &chars(&t)));
        }

        #[test]
        fn agrees_with_reference_on_latin1(p in "[a\u{e9}*?]{0,6}", t in "[a\u{e9}x]{0,8}") {
            prop_assert_eq!(Pattern::new(&p, false).matches(&t), reference(&chars(&p), &chars(&t)));
        }

        #[test]
        fn folded_agrees_with_reference_on_lowercased(p in "[aAbB:*?]{0,8}", t in "[aAbB:]{0,10}") {
            let want = reference(&chars(&p.to_lowercase()), &chars(&t.to_lowercase()));
            prop_assert_eq!(Pattern::new(&p, true).matches(&t), want);
        }
    }
}

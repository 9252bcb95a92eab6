//! Whole-string globs: `*` matches any sequence of characters (including
//! none), `?` exactly one character, `\` makes the next character literal.
//! Case-sensitive; characters are Unicode scalar values.

/// A compiled glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    source: String,
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Char(char),
    One,
    Any,
}

/// A pattern that is not a glob: a `\` with nothing after it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("glob {0:?} ends with an escape character")]
pub struct GlobError(pub String);

impl Glob {
    /// Compile a pattern.
    pub fn new(pattern: &str) -> Result<Self, GlobError> {
        let mut tokens = Vec::with_capacity(pattern.len());
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            tokens.push(match c {
                '*' => {
                    if tokens.last() == Some(&Token::Any) {
                        continue;
                    }
                    Token::Any
                }
                '?' => Token::One,
                '\\' => Token::Char(chars.next().ok_or_else(|| GlobError(pattern.to_owned()))?),
                c => Token::Char(c),
            });
        }
        Ok(Glob {
            source: pattern.to_owned(),
            tokens,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// True when the pattern has no wildcard: it matches one string only.
    pub fn literal(&self) -> Option<String> {
        self.tokens
            .iter()
            .map(|t| match t {
                Token::Char(c) => Some(*c),
                _ => None,
            })
            .collect()
    }

    /// True when the pattern matches every string.
    pub fn matches_everything(&self) -> bool {
        self.tokens == [Token::Any]
    }

    /// Whole-string match. Linear in practice: the classic backtracking to
    /// the last `*` only.
    pub fn matches(&self, text: &str) -> bool {
        let t: Vec<char> = text.chars().collect();
        let p = &self.tokens;
        let (mut ti, mut pi) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while ti < t.len() {
            match p.get(pi) {
                Some(Token::Char(c)) if *c == t[ti] => {
                    ti += 1;
                    pi += 1;
                }
                Some(Token::One) => {
                    ti += 1;
                    pi += 1;
                }
                Some(Token::Any) => {
                    star = Some((pi, ti));
                    pi += 1;
                }
                _ => match star {
                    Some((sp, st)) => {
                        pi = sp + 1;
                        ti = st + 1;
                        star = Some((sp, st + 1));
                    }
                    None => return false,
                },
            }
        }
        p[pi..].iter().all(|t| *t == Token::Any)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semantics() {
        let m = |p: &str, t: &str| Glob::new(p).unwrap().matches(t);
        assert!(m("*", ""));
        assert!(m("*", "anything"));
        assert!(m("delete_*", "delete_pod"));
        assert!(!m("delete_*", "undelete_pod"), "whole string");
        assert!(!m("Delete_*", "delete_pod"), "case-sensitive");
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("a?c", "aéc"), "? is one character, not one byte");
        assert!(m("production:*", "production:"));
        assert!(m("*:*:*", "a:b:c"));
        assert!(!m("*:*:*", "a:b"));
        assert!(m(r"a\*b", "a*b"));
        assert!(!m(r"a\*b", "axb"));
        assert!(m(r"a\?", "a?"));
        assert!(m(r"\\", "\\"));
        assert!(m("a*b*c", "aXXbYYbZc"));
        assert!(!m("a*b*c", "aXXbYYbZ"));
        assert!(m("", ""));
        assert!(!m("", "x"));
        assert_eq!(Glob::new("a\\"), Err(GlobError("a\\".into())));
        assert_eq!(Glob::new(r"a\*").unwrap().literal(), Some("a*".into()));
        assert_eq!(Glob::new("a*").unwrap().literal(), None);
    }

    #[test]
    fn pathological_patterns_stay_fast() {
        let g = Glob::new(&"*a".repeat(50)).unwrap();
        let text = "a".repeat(49) + "b";
        assert!(!g.matches(&text));
    }
}

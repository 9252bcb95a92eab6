//! Whole-string globs: `*` matches any sequence of characters (including
//! none), `?` exactly one character, `\` makes the next character literal.
//! Case-sensitive; characters are Unicode scalar values.

/// A compiled glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    source: String,
    tokens: Vec<Token>,
    fast: Fast,
}

/// Shapes that match without the general algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fast {
    Everything,
    Literal(String),
    Prefix(String),
    None,
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
        let literal = |ts: &[Token]| -> Option<String> {
            ts.iter()
                .map(|t| match t {
                    Token::Char(c) => Some(*c),
                    _ => None,
                })
                .collect()
        };
        let fast = if tokens == [Token::Any] {
            Fast::Everything
        } else if let Some(l) = literal(&tokens) {
            Fast::Literal(l)
        } else if let Some((Token::Any, head)) = tokens.split_last()
            && let Some(p) = literal(head)
        {
            Fast::Prefix(p)
        } else {
            Fast::None
        };
        Ok(Glob {
            source: pattern.to_owned(),
            tokens,
            fast,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The one string the pattern matches, when it has no wildcard.
    pub fn literal(&self) -> Option<String> {
        match &self.fast {
            Fast::Literal(l) => Some(l.clone()),
            _ => None,
        }
    }

    /// True when the pattern matches every string.
    pub fn matches_everything(&self) -> bool {
        self.fast == Fast::Everything
    }

    /// Whole-string match, without allocating: exact comparison for a
    /// literal, `starts_with` for `literal*`, otherwise the classic
    /// backtracking to the last `*` over byte offsets.
    pub fn matches(&self, text: &str) -> bool {
        match &self.fast {
            Fast::Everything => return true,
            Fast::Literal(l) => return text == l,
            Fast::Prefix(p) => return text.starts_with(p.as_str()),
            Fast::None => {}
        }
        let p = &self.tokens;
        let (mut ti, mut pi) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        loop {
            let c = text[ti..].chars().next();
            let Some(c) = c else { break };
            match p.get(pi) {
                Some(Token::Char(want)) if *want == c => {
                    ti += c.len_utf8();
                    pi += 1;
                }
                Some(Token::One) => {
                    ti += c.len_utf8();
                    pi += 1;
                }
                Some(Token::Any) => {
                    star = Some((pi, ti));
                    pi += 1;
                }
                _ => match star {
                    Some((sp, st)) => {
                        // Let the last `*` swallow one more character.
                        let skip = text[st..].chars().next().map_or(1, char::len_utf8);
                        pi = sp + 1;
                        ti = st + skip;
                        star = Some((sp, ti));
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
    fn fast_paths_agree_with_the_general_algorithm() {
        // Force the general algorithm by comparing against a pattern with a
        // leading `*` where the fast path had none.
        for (p, t) in [
            ("abc", "abc"),
            ("abc", "abd"),
            ("ab*", "abzz"),
            ("ab*", "a"),
            ("é*", "éa"),
            ("*", ""),
        ] {
            let g = Glob::new(p).unwrap();
            let general = Glob {
                fast: Fast::None,
                ..g.clone()
            };
            assert_eq!(g.matches(t), general.matches(t), "{p} {t}");
        }
    }

    #[test]
    fn pathological_patterns_stay_fast() {
        let g = Glob::new(&"*a".repeat(50)).unwrap();
        let text = "a".repeat(49) + "b";
        assert!(!g.matches(&text));
    }
}

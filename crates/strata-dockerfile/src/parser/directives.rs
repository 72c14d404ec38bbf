//! Parser directives (`# syntax=`, `# escape=`, `# check=`), the escape
//! character, and line continuation.

use super::ParseError;

/// One parser directive as found at the top of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// Lower-cased name: `syntax`, `escape` or `check`.
    pub name: String,
    /// The value, surrounding whitespace removed.
    pub value: String,
    /// The 1-based line it was on.
    pub line: usize,
}

/// The directives of a Dockerfile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directives {
    /// `# syntax=docker/dockerfile:1`.
    pub syntax: Option<Directive>,
    /// `` # escape=` ``.
    pub escape: Option<Directive>,
    /// `# check=skip=JSONArgsRecommended;error=true`.
    pub check: Option<Directive>,
}

impl Directives {
    /// The parsed `check` directive (default: nothing skipped, no errors).
    pub fn check_config(&self) -> CheckConfig {
        self.check
            .as_ref()
            .map(|d| CheckConfig::parse(&d.value))
            .unwrap_or_default()
    }
}

/// The `check` directive: which build checks to skip and whether warnings
/// are errors (`skip=A,B;error=true`, `skip=all`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckConfig {
    /// Names of skipped checks (`all` skips everything).
    pub skip: Vec<String>,
    /// Whether check violations should fail the build.
    pub error: bool,
}

impl CheckConfig {
    /// Parse the directive value; unknown keys and bad booleans are ignored
    /// (BuildKit reports them as a separate warning).
    pub fn parse(value: &str) -> CheckConfig {
        let mut cfg = CheckConfig::default();
        for part in value.split(';') {
            let Some((k, v)) = part.split_once('=') else {
                continue;
            };
            match k.trim().to_ascii_lowercase().as_str() {
                "skip" => cfg.skip = v.split(',').map(|s| s.trim().to_string()).collect(),
                "error" => cfg.error = v.trim().eq_ignore_ascii_case("true"),
                _ => {}
            }
        }
        cfg
    }

    /// Whether the check named `rule` is enabled.
    pub fn enabled(&self, rule: &str) -> bool {
        !self
            .skip
            .iter()
            .any(|s| s.eq_ignore_ascii_case("all") || s.eq_ignore_ascii_case(rule))
    }
}

/// State of directive parsing while the first lines are read.
#[derive(Debug)]
pub(crate) struct DirectiveState {
    pub(crate) escape: char,
    pub(crate) found: Directives,
    done: bool,
}

impl DirectiveState {
    pub(crate) fn new() -> Self {
        DirectiveState {
            escape: '\\',
            found: Directives::default(),
            done: false,
        }
    }

    /// Look at a (newline-trimmed) line while directives may still appear.
    pub(crate) fn see(&mut self, line: &str, line_no: usize) -> Result<(), ParseError> {
        if self.done {
            return Ok(());
        }
        let Some((name, value)) = match_directive(line) else {
            self.done = true;
            return Ok(());
        };
        let name = name.to_ascii_lowercase();
        let slot = match name.as_str() {
            "syntax" => &mut self.found.syntax,
            "escape" => &mut self.found.escape,
            "check" => &mut self.found.check,
            _ => {
                self.done = true;
                return Ok(());
            }
        };
        if slot.is_some() {
            return Err(ParseError::DuplicateDirective(name));
        }
        *slot = Some(Directive {
            name: name.clone(),
            value: value.to_string(),
            line: line_no,
        });
        if name == "escape" {
            self.escape = match value {
                "\\" => '\\',
                "`" => '`',
                _ => return Err(ParseError::InvalidEscape(value.to_string())),
            };
        }
        Ok(())
    }
}

/// Go's `\s`: `[\t\n\f\r ]`.
fn re_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{c}' | '\r' | ' ')
}

/// `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`, by hand.
fn match_directive(line: &str) -> Option<(&str, &str)> {
    let s = line.strip_prefix('#')?.trim_start_matches(re_space);
    let name_len = s
        .char_indices()
        .take_while(|(i, c)| {
            if *i == 0 {
                c.is_ascii_alphabetic()
            } else {
                c.is_ascii_alphanumeric()
            }
        })
        .count();
    if name_len == 0 {
        return None;
    }
    let (name, rest) = s.split_at(name_len);
    let after_eq = rest.trim_start_matches(re_space).strip_prefix('=')?;
    if after_eq.contains('\n') {
        return None;
    }
    let value = after_eq.trim_start_matches(re_space);
    if !value.is_empty() {
        return Some((name, value.trim_end_matches(re_space)));
    }
    // Only blanks after `=`: the lazy `(.+?)` takes the last one.
    let last = after_eq.chars().last()?;
    Some((name, &after_eq[after_eq.len() - last.len_utf8()..]))
}

/// Strip a line-continuation escape: `(text, true)` when the line does not
/// continue, `(text without the escape and trailing blanks, false)` when it
/// does. The escape continues a line when it is last (blanks aside) and is
/// either alone or preceded by a character other than the escape.
pub(crate) fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let t = line.trim_end_matches([' ', '\t']);
    if let Some(before) = t.strip_suffix(escape)
        && (before.is_empty() || !before.ends_with(escape))
    {
        return (before, false);
    }
    (line, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directive_regex() {
        assert_eq!(match_directive("# escape=`"), Some(("escape", "`")));
        assert_eq!(match_directive("#ESCAPE = \\ "), Some(("ESCAPE", "\\")));
        assert_eq!(match_directive("# syntax=a b  "), Some(("syntax", "a b")));
        assert_eq!(match_directive("# escape=  "), Some(("escape", " ")));
        assert_eq!(match_directive("# escape="), None);
        assert_eq!(match_directive("# 1escape=x"), None);
        assert_eq!(match_directive("# comment"), None);
        assert_eq!(match_directive(" # escape=x"), None);
    }

    #[test]
    fn continuation() {
        assert_eq!(trim_continuation("a \\", '\\'), ("a ", false));
        assert_eq!(trim_continuation("a\\ \t", '\\'), ("a", false));
        assert_eq!(trim_continuation("\\", '\\'), ("", false));
        assert_eq!(trim_continuation("a\\\\", '\\'), ("a\\\\", true));
        assert_eq!(trim_continuation("a`", '`'), ("a", false));
        assert_eq!(trim_continuation("a\\", '`'), ("a\\", true));
    }

    #[test]
    fn check_config() {
        let c = CheckConfig::parse("skip=JSONArgsRecommended,StageNameCasing;error=true");
        assert!(c.error);
        assert!(!c.enabled("JSONArgsRecommended"));
        assert!(c.enabled("MaintainerDeprecated"));
        assert!(!CheckConfig::parse("skip=all").enabled("X"));
    }

    #[test]
    fn duplicate_and_bad_escape() {
        let mut d = DirectiveState::new();
        d.see("# escape=`", 1).unwrap();
        assert_eq!(d.escape, '`');
        assert_eq!(
            d.see("# escape=\\", 2),
            Err(ParseError::DuplicateDirective("escape".into()))
        );
        let mut d = DirectiveState::new();
        assert_eq!(
            d.see("# escape=x", 1),
            Err(ParseError::InvalidEscape("x".into()))
        );
    }
}

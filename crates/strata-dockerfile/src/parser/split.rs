//! Splitting a joined instruction line into keyword, `--flags` and argument
//! nodes, with the per-instruction argument rules of BuildKit's line parsers.

use super::json::{self, JsonArray};
use super::{Node, ParseError};

/// BuildKit's `[\t\v\f\r ]` (the separator of keyword and arguments).
pub(crate) fn is_token_ws(c: char) -> bool {
    matches!(c, '\t' | '\u{b}' | '\u{c}' | '\r' | ' ')
}

/// Split at runs of `[\t\v\f\r ]` (like Go's `regexp.Split(s, -1)`).
fn split_ws(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find(is_token_ws) {
        out.push(rest[..i].to_string());
        rest = rest[i..].trim_start_matches(is_token_ws);
    }
    out.push(rest.to_string());
    out
}

/// `(keyword, flags, rest)` of a joined line.
pub(crate) fn split_command(line: &str) -> (String, Vec<String>, String) {
    let line = line.trim();
    let (cmd, rest) = match line.char_indices().find(|(_, c)| is_token_ws(*c)) {
        Some((i, _)) => {
            let rest = line[i..].trim_start_matches(is_token_ws);
            (&line[..i], Some(rest))
        }
        None => (line, None),
    };
    let (flags, args) = match rest {
        Some(r) => extract_builder_flags(r),
        None => (Vec::new(), ""),
    };
    (cmd.to_string(), flags, args.trim().to_string())
}

/// Take the leading `--flag` words off `line`. Quotes are removed and `\`
/// escapes applied inside flags; a bare `--` ends the flags.
pub(crate) fn extract_builder_flags(line: &str) -> (Vec<String>, &str) {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut quote = '\0';
    let mut blank_ok = false;
    let mut it = line.char_indices().peekable();
    loop {
        let Some((pos, ch)) = it.next() else {
            if phase != Phase::Spaces && word != "--" && (blank_ok || !word.is_empty()) {
                words.push(word);
            }
            return (words, "");
        };
        if phase == Phase::Spaces {
            if ch.is_whitespace() {
                continue;
            }
            let dashdash = ch == '-' && it.peek().map(|(_, c)| *c) == Some('-');
            if !dashdash {
                return (words, &line[pos..]);
            }
            phase = Phase::Word;
        }
        if phase == Phase::Word {
            if ch.is_whitespace() {
                phase = Phase::Spaces;
                if word == "--" {
                    return (words, &line[pos..]);
                }
                if blank_ok || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                word.clear();
                blank_ok = false;
                continue;
            }
            if ch == '\'' || ch == '"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
                continue;
            }
            let ch = if ch == '\\' {
                match it.next() {
                    Some((_, n)) => n,
                    None => continue,
                }
            } else {
                ch
            };
            word.push(ch);
            continue;
        }
        // Phase::Quote
        if ch == quote {
            phase = Phase::Word;
            continue;
        }
        let ch = if ch == '\\' {
            match it.next() {
                Some((_, n)) => n,
                None => {
                    phase = Phase::Word;
                    continue;
                }
            }
        } else {
            ch
        };
        word.push(ch);
    }
}

/// Split into words at Unicode whitespace outside quotes, keeping quotes and
/// escape characters (BuildKit `parseWords`, used by ENV, LABEL and ARG).
pub(crate) fn parse_words(rest: &str, escape: char) -> Vec<String> {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut quote = '\0';
    let mut blank_ok = false;
    let mut word = String::new();
    let mut it = rest.chars().peekable();
    while let Some(mut ch) = it.next() {
        if phase == Phase::Spaces {
            if ch.is_whitespace() {
                continue;
            }
            phase = Phase::Word;
        }
        if phase == Phase::Word {
            if ch.is_whitespace() {
                phase = Phase::Spaces;
                if blank_ok || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                blank_ok = false;
                continue;
            }
            if ch == '\'' || ch == '"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
            }
            if ch == escape {
                let Some(next) = it.next() else {
                    continue; // an escape at the very end is dropped
                };
                word.push(ch);
                ch = next;
            }
            word.push(ch);
            continue;
        }
        // Phase::Quote
        if ch == quote {
            phase = Phase::Word;
        }
        if ch == escape && quote != '\'' {
            let Some(next) = it.next() else {
                phase = Phase::Word;
                continue;
            };
            word.push(ch);
            ch = next;
        }
        word.push(ch);
    }
    if phase != Phase::Spaces && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    words
}

/// The arguments of a node and whether they came from JSON.
pub(crate) struct Parsed {
    pub(crate) args: Vec<String>,
    pub(crate) json: bool,
    pub(crate) sub: Option<Box<Node>>,
}

impl Parsed {
    fn text(args: Vec<String>) -> Self {
        Parsed {
            args,
            json: false,
            sub: None,
        }
    }
}

fn whitespace_delimited(rest: &str) -> Parsed {
    if rest.is_empty() {
        return Parsed::text(Vec::new());
    }
    Parsed::text(split_ws(rest))
}

fn try_json(rest: &str) -> Result<Option<Vec<String>>, ParseError> {
    let r = rest.trim_start();
    if !r.starts_with('[') {
        return Ok(None);
    }
    match json::parse_array(r) {
        JsonArray::Strings(v) => Ok(Some(v)),
        JsonArray::NotStrings => Err(ParseError::NotStringArray),
        JsonArray::Invalid => Ok(None),
    }
}

fn maybe_json(rest: &str) -> Result<Parsed, ParseError> {
    if rest.is_empty() {
        return Ok(Parsed::text(Vec::new()));
    }
    Ok(match try_json(rest)? {
        Some(args) => Parsed {
            args,
            json: true,
            sub: None,
        },
        None => Parsed::text(vec![rest.to_string()]),
    })
}

fn maybe_json_to_list(rest: &str) -> Result<Parsed, ParseError> {
    Ok(match try_json(rest)? {
        Some(args) => Parsed {
            args,
            json: true,
            sub: None,
        },
        None => whitespace_delimited(rest),
    })
}

fn name_val(rest: &str, key: &str, escape: char) -> Result<Parsed, ParseError> {
    let words = parse_words(rest, escape);
    let Some(first) = words.first() else {
        return Ok(Parsed::text(Vec::new()));
    };
    if !first.contains('=') {
        // Legacy `KEY value`: split once at the first whitespace run.
        let Some(i) = rest.find(is_token_ws) else {
            return Err(ParseError::MissingValue(key.to_string()));
        };
        let value = rest[i..].trim_start_matches(is_token_ws);
        return Ok(Parsed::text(vec![
            rest[..i].to_string(),
            value.to_string(),
            String::new(),
        ]));
    }
    let mut args = Vec::with_capacity(words.len() * 3);
    for w in &words {
        let Some((k, v)) = w.split_once('=') else {
            return Err(ParseError::MissingEquals(w.clone()));
        };
        args.extend([k.to_string(), v.to_string(), "=".to_string()]);
    }
    Ok(Parsed::text(args))
}

/// Go's `unicode.IsSpace` on an ASCII byte.
fn is_byte_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ')
}

fn health_config(rest: &str) -> Result<Parsed, ParseError> {
    let sep = rest.find(is_byte_space).unwrap_or(rest.len());
    if sep == 0 {
        return Ok(Parsed::text(Vec::new()));
    }
    let cmd = maybe_json(rest[sep..].trim_start_matches(is_byte_space))?;
    let mut args = vec![rest[..sep].to_string()];
    args.extend(cmd.args);
    Ok(Parsed {
        args,
        json: cmd.json,
        sub: None,
    })
}

/// Dispatch on the (lower-cased) keyword to the argument rules.
pub(crate) fn parse_args(
    keyword: &str,
    rest: &str,
    ctx: &mut super::NodeCtx,
) -> Result<Parsed, ParseError> {
    match keyword {
        "add" | "copy" | "volume" => maybe_json_to_list(rest),
        "arg" => Ok(Parsed::text(parse_words(rest, ctx.escape))),
        "cmd" | "entrypoint" | "run" | "shell" => maybe_json(rest),
        "env" => name_val(rest, "ENV", ctx.escape),
        "label" => name_val(rest, "LABEL", ctx.escape),
        "expose" | "from" => Ok(whitespace_delimited(rest)),
        "healthcheck" => health_config(rest),
        "maintainer" | "stopsignal" | "user" | "workdir" => Ok(if rest.is_empty() {
            Parsed::text(Vec::new())
        } else {
            Parsed::text(vec![rest.to_string()])
        }),
        "onbuild" => {
            if rest.is_empty() {
                return Ok(Parsed::text(Vec::new()));
            }
            let child = super::node_from_line(rest.to_string(), ctx)?;
            Ok(Parsed {
                args: Vec::new(),
                json: false,
                sub: Some(Box::new(child)),
            })
        }
        _ => Ok(Parsed::text(vec![String::new()])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags() {
        assert_eq!(
            extract_builder_flags("--a=1 --b x y"),
            (vec!["--a=1".into(), "--b".into()], "x y")
        );
        assert_eq!(
            extract_builder_flags("--a=1 -- --b"),
            (vec!["--a=1".into()], " --b")
        );
        assert_eq!(
            extract_builder_flags("--x=\"a b\" z"),
            (vec!["--x=a b".into()], "z")
        );
        assert_eq!(
            extract_builder_flags("--x='' z"),
            (vec!["--x=".into()], "z")
        );
        assert_eq!(
            extract_builder_flags("--a\\ b c"),
            (vec!["--a b".into()], "c")
        );
        assert_eq!(extract_builder_flags("--only"), (vec!["--only".into()], ""));
        assert_eq!(extract_builder_flags("--"), (vec![], ""));
        assert_eq!(extract_builder_flags("-x"), (vec![], "-x"));
    }

    #[test]
    fn words() {
        assert_eq!(
            parse_words("abc=\"123 456\" def", '\\'),
            ["abc=\"123 456\"", "def"]
        );
        assert_eq!(parse_words("a=b\\ c d", '\\'), ["a=b\\ c", "d"]);
        assert_eq!(parse_words("a='x\\' b", '\\'), ["a='x\\'", "b"]);
        assert_eq!(parse_words("x\\", '\\'), ["x"]);
        assert_eq!(parse_words("''", '\\'), ["''"]);
    }

    #[test]
    fn command_split() {
        let (c, f, a) = split_command("  COPY\t --from=x  a  b ");
        assert_eq!(
            (c.as_str(), f, a.as_str()),
            ("COPY", vec!["--from=x".to_string()], "a  b")
        );
        let (c, f, a) = split_command("RUN");
        assert_eq!((c.as_str(), f.len(), a.as_str()), ("RUN", 0, ""));
    }
}

//! Heredocs: `<<EOF`, `<<-EOF` (strip leading tabs), `<<"EOF"` / `<<'EOF'`
//! (no expansion), `2<<EOF` (file descriptor), several per line.

use crate::shell::{ExpandError, Lexer, NoEnv};

/// One heredoc attached to an instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter word with quotes removed (`EOF`).
    pub name: String,
    /// The file descriptor before `<<` (`0` when absent).
    pub fd: u64,
    /// Whether the content is subject to variable expansion (the delimiter
    /// was not quoted).
    pub expand: bool,
    /// `<<-`: leading tabs are stripped from the content and terminator.
    pub chomp: bool,
    /// The body lines, each with its original line ending, without the
    /// terminator line. Tabs are *not* yet stripped; see [`Heredoc::data`].
    pub content: String,
}

impl Heredoc {
    /// The body as it should be used: with leading tabs removed from every
    /// line when `chomp` is set.
    pub fn data(&self) -> String {
        if self.chomp {
            chomp(&self.content)
        } else {
            self.content.clone()
        }
    }
}

/// Remove leading tabs from each line (`(?m)^\t+`).
pub fn chomp(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(line.trim_start_matches('\t'));
    }
    out
}

/// If `word` is a heredoc operator (`^(\d*)<<(-?)([^<]*)$` whose rest is a
/// single shell word), the heredoc it opens (with empty content).
pub fn parse_heredoc(word: &str) -> Result<Option<Heredoc>, ExpandError> {
    let digits = word.bytes().take_while(u8::is_ascii_digit).count();
    let Some(after) = word[digits..].strip_prefix("<<") else {
        return Ok(None);
    };
    let (chomp, rest) = match after.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, after),
    };
    if rest.is_empty() || rest.contains('<') {
        return Ok(None);
    }
    let fd = word[..digits].parse::<u64>().unwrap_or(0);
    let mut lex = Lexer::new('\\');
    lex.skip_unset_env = true;
    let words = lex.process_words(rest, &NoEnv)?;
    if words.len() != 1 {
        return Ok(None);
    }
    lex.raw_quotes = true;
    let raw = lex.process_words(rest, &NoEnv)?;
    let quotes = |s: &str| s.chars().filter(|c| *c == '\'' || *c == '"').count();
    let name = words.into_iter().next().unwrap_or_default();
    let raw_name = raw.into_iter().next().unwrap_or_default();
    let expand = quotes(&name) == quotes(&raw_name);
    Ok(Some(Heredoc {
        name,
        fd,
        expand,
        chomp,
        content: String::new(),
    }))
}

/// The heredocs opened on an instruction line, in order.
pub(crate) fn heredocs_from_line(line: &str) -> Result<Vec<Heredoc>, ExpandError> {
    let mut lex = Lexer::new('\\');
    lex.raw_quotes = true;
    lex.raw_escapes = true;
    lex.skip_unset_env = true;
    let words = lex.process_words(line, &NoEnv).unwrap_or_default();
    let mut docs = Vec::new();
    for w in words {
        if let Some(h) = parse_heredoc(&w)? {
            docs.push(h);
        }
    }
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(w: &str) -> Option<Heredoc> {
        parse_heredoc(w).unwrap()
    }

    #[test]
    fn operators() {
        let d = h("<<EOF").unwrap();
        assert_eq!(
            (d.name.as_str(), d.expand, d.chomp, d.fd),
            ("EOF", true, false, 0)
        );
        let d = h("<<-'EOF'").unwrap();
        assert_eq!((d.name.as_str(), d.expand, d.chomp), ("EOF", false, true));
        let d = h("3<<\"E O\"").unwrap();
        assert_eq!((d.name.as_str(), d.expand, d.fd), ("E O", false, 3));
        let d = h("<<E\"O\"F").unwrap();
        assert_eq!((d.name.as_str(), d.expand), ("EOF", false));
        assert_eq!(h("<<"), None);
        assert_eq!(h("a<<EOF"), None);
        assert_eq!(h("<<EOF<<X"), None);
        assert_eq!(h("<<EOF X"), None);
        assert!(parse_heredoc("<<'EOF").is_err());
    }

    #[test]
    fn from_line() {
        let docs = heredocs_from_line("RUN cat <<A 2<<-\"B\" > x \"<<C\"").unwrap();
        let names: Vec<_> = docs.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["A", "B"]);
        assert!(heredocs_from_line("RUN echo '<<A").unwrap().is_empty());
    }

    #[test]
    fn chomping() {
        assert_eq!(chomp("\t\ta\n\tb\n  \tc\n"), "a\nb\n  \tc\n");
    }
}

//! BuildKit's AST dump (`(run "echo" "hi")`) and Go's `strconv.Quote`.

use super::Node;

/// Go's `strconv.Quote` (`%q`), strata-go's.
pub use strata_go::quote::go_quote;

impl Node {
    /// This node in BuildKit's dump format, without the surrounding
    /// parentheses: `run "echo" "hi"`, `copy ["--from=a"] "x" "/"`,
    /// `onbuild (run "x")`.
    pub fn dump(&self) -> String {
        let mut s = self.keyword.to_lowercase();
        if !self.flags.is_empty() {
            let flags: Vec<String> = self.flags.iter().map(|f| go_quote(f)).collect();
            s.push_str(" [");
            s.push_str(&flags.join(" "));
            s.push(']');
        }
        if let Some(sub) = &self.sub {
            s.push_str(" (");
            s.push_str(&sub.dump());
            s.push(')');
        }
        for a in &self.args {
            s.push(' ');
            s.push_str(&go_quote(a));
        }
        s.trim().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_matches_go() {
        assert_eq!(go_quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(go_quote("\0\u{7f}\u{1b}"), r#""\x00\x7f\x1b""#);
        assert_eq!(go_quote("é☥한"), "\"é☥한\"");
        assert_eq!(
            go_quote("\u{a0}\u{2028}\u{200b}"),
            r#""\u00a0\u2028\u200b""#
        );
        assert_eq!(go_quote("\u{e0001}"), r#""\U000e0001""#);
        assert_eq!(go_quote("\u{7}\u{8}\u{b}\u{c}"), r#""\a\b\v\f""#);
    }
}

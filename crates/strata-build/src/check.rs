//! `build --check`: lint only. The Dockerfile is parsed and its build
//! graph resolved (target, stage references, FROM expansions) without
//! building; the findings are the front end's build checks, whose names
//! are BuildKit's where the rules overlap (`JSONArgsRecommended`,
//! `FromAsCasing`, `MaintainerDeprecated`, …), printed as buildx prints
//! them:
//!
//! ```text
//! Check complete, 1 warning has been found!
//!
//! WARN: JSONArgsRecommended - https://docs.docker.com/go/dockerfile/rule/json-args-recommended/
//! JSON arguments recommended for CMD to prevent unintended behavior related to OS signals
//! Dockerfile:2
//! --------------------
//!    1 |     FROM busybox
//!    2 | >>> CMD echo hi
//! --------------------
//! ```

use strata_dockerfile::args::{BuildOptions, GlobalArgs};
use strata_dockerfile::{Dockerfile, Warning};

use crate::error::Result;
use crate::graph::Graph;

/// The outcome of `--check`.
#[derive(Debug, Clone)]
pub struct CheckReport {
    /// The findings.
    pub warnings: Vec<Warning>,
    /// The report as printed.
    pub text: String,
}

/// `JSONArgsRecommended` → `json-args-recommended` (the rule's doc page).
pub fn rule_slug(rule: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = rule.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev_lower = i > 0 && chars[i - 1].is_ascii_lowercase();
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            let prev_upper = i > 0 && chars[i - 1].is_ascii_uppercase();
            if i > 0 && (prev_lower || (prev_upper && next_lower)) {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(*c);
        }
    }
    out
}

/// Lints `source` (named `filename` in messages).
pub fn check(source: &[u8], filename: &str, opts: &BuildOptions) -> Result<CheckReport> {
    let df = Dockerfile::parse(source)?;
    let global = GlobalArgs::new(&df, opts)?;
    Graph::new(&df, &global, opts.target.as_deref())?;
    let text_src = String::from_utf8_lossy(source);
    let n = df.warnings.len();
    let mut text = match n {
        0 => "Check complete, no warnings found.\n".to_string(),
        1 => "Check complete, 1 warning has been found!\n".to_string(),
        n => format!("Check complete, {n} warnings have been found!\n"),
    };
    for w in &df.warnings {
        text.push_str(&format!(
            "\nWARN: {} - https://docs.docker.com/go/dockerfile/rule/{}/\n{}\n",
            w.rule,
            rule_slug(w.rule),
            w.message
        ));
        if let Some(s) = strata_dockerfile::render_snippet(&text_src, filename, w.range) {
            text.push_str(&s);
        }
    }
    Ok(CheckReport {
        warnings: df.warnings,
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(rule_slug("JSONArgsRecommended"), "json-args-recommended");
        assert_eq!(rule_slug("FromAsCasing"), "from-as-casing");
        assert_eq!(rule_slug("MaintainerDeprecated"), "maintainer-deprecated");
    }

    #[test]
    fn reports_rules_with_snippets() {
        let r = check(
            b"FROM busybox as b\nMAINTAINER me\nCMD echo hi\n",
            "Dockerfile",
            &BuildOptions::default(),
        )
        .unwrap();
        let rules: Vec<&str> = r.warnings.iter().map(|w| w.rule).collect();
        assert!(rules.contains(&"JSONArgsRecommended"), "{rules:?}");
        assert!(rules.contains(&"MaintainerDeprecated"), "{rules:?}");
        assert!(r.text.contains("warnings have been found!"), "{}", r.text);
        assert!(r.text.contains(">>> CMD echo hi"), "{}", r.text);
        let ok = check(
            b"FROM busybox\nCMD [\"sh\"]\n",
            "Dockerfile",
            &BuildOptions::default(),
        )
        .unwrap();
        assert_eq!(ok.text, "Check complete, no warnings found.\n");
        assert!(
            check(
                b"FROM busybox\nCOPY --from=nope:1 / /\nRUNN x\n",
                "Dockerfile",
                &BuildOptions::default()
            )
            .is_err()
        );
    }
}

//! `--flag` parsing for instructions (BuildKit's `BFlags`): each instruction
//! declares its flags as bool, string or repeated string, then the words the
//! parser collected are checked against them.

use super::error::{InstructionError, suggest};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Bool,
    String,
    Strings,
}

/// The value(s) of one declared flag after parsing.
#[derive(Debug, Clone, Default)]
pub(crate) struct Value {
    pub(crate) used: bool,
    /// Last value for bool/string flags (`"true"`/`"false"` for bools).
    pub(crate) value: Option<String>,
    /// All values for repeated flags.
    pub(crate) values: Vec<String>,
}

/// Declared flags and their parsed values, in declaration order (no
/// allocation when no flags were given).
pub(crate) struct Flags<'d> {
    decl: &'d [(&'static str, Kind)],
    values: Vec<Value>,
}

impl<'d> Flags<'d> {
    /// Parse `words` (`--name[=value]`) against the declared flags.
    pub(crate) fn parse(
        words: &[String],
        decl: &'d [(&'static str, Kind)],
    ) -> Result<Flags<'d>, InstructionError> {
        let mut f = Flags {
            decl,
            values: Vec::new(),
        };
        if !words.is_empty() {
            f.values = vec![Value::default(); decl.len()];
        }
        for arg in words {
            let Some(body) = arg.strip_prefix("--") else {
                return Err(InstructionError::FlagWithoutDashes(arg.clone()));
            };
            if body.is_empty() {
                break;
            }
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (body, None),
            };
            let Some(i) = f.decl.iter().position(|(n, _)| *n == name) else {
                let names: Vec<&str> = f.decl.iter().map(|(n, _)| *n).collect();
                return Err(InstructionError::UnknownFlag {
                    name: name.to_string(),
                    suggestion: suggest(name, &names, true),
                });
            };
            let kind = f.decl[i].1;
            let Some(slot) = f.values.get_mut(i) else {
                continue;
            };
            if slot.used && kind != Kind::Strings {
                return Err(InstructionError::DuplicateFlag(name.to_string()));
            }
            slot.used = true;
            match kind {
                Kind::Bool => {
                    let v = match value {
                        None => "true".to_string(),
                        Some("") => return Err(InstructionError::MissingFlagValue(name.into())),
                        Some(v) => match v.to_lowercase().as_str() {
                            l @ ("true" | "false") => l.to_string(),
                            _ => {
                                return Err(InstructionError::BadBool {
                                    name: name.into(),
                                    value: v.into(),
                                });
                            }
                        },
                    };
                    slot.value = Some(v);
                }
                Kind::String | Kind::Strings => {
                    let Some(v) = value else {
                        return Err(InstructionError::MissingFlagValue(name.into()));
                    };
                    if kind == Kind::String {
                        slot.value = Some(v.to_string());
                    } else {
                        slot.values.push(v.to_string());
                    }
                }
            }
        }
        Ok(f)
    }

    fn slot(&self, name: &str) -> Option<&Value> {
        let i = self.decl.iter().position(|(n, _)| *n == name)?;
        self.values.get(i)
    }

    /// A string flag's value, if given.
    pub(crate) fn string(&self, name: &str) -> Option<String> {
        self.slot(name).and_then(|v| v.value.clone())
    }

    /// Move a string flag's value out.
    pub(crate) fn take(&mut self, name: &str) -> Option<String> {
        let i = self.decl.iter().position(|(n, _)| *n == name)?;
        self.values.get_mut(i).and_then(|v| v.value.take())
    }

    /// A bool flag (false when absent).
    pub(crate) fn bool(&self, name: &str) -> bool {
        self.slot(name).and_then(|v| v.value.as_deref()) == Some("true")
    }

    /// A bool flag, `None` when absent.
    pub(crate) fn opt_bool(&self, name: &str) -> Option<bool> {
        self.slot(name)
            .and_then(|v| v.value.as_deref())
            .map(|v| v == "true")
    }

    /// Names of the flags that were given.
    pub(crate) fn used(&self) -> Vec<&'static str> {
        self.decl
            .iter()
            .zip(&self.values)
            .filter(|(_, v)| v.used)
            .map(|((n, _), _)| *n)
            .collect()
    }

    /// Move a repeated flag's values out.
    pub(crate) fn take_strings(&mut self, name: &str) -> Vec<String> {
        let Some(i) = self.decl.iter().position(|(n, _)| *n == name) else {
            return Vec::new();
        };
        self.values
            .get_mut(i)
            .map(|v| std::mem::take(&mut v.values))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    const DECL: &[(&str, Kind)] = &[
        ("link", Kind::Bool),
        ("from", Kind::String),
        ("exclude", Kind::Strings),
    ];

    #[test]
    fn values() {
        let mut f = Flags::parse(
            &w(&["--link", "--from=a", "--exclude=x", "--exclude=y"]),
            DECL,
        )
        .unwrap();
        assert!(f.bool("link"));
        assert_eq!(f.string("from").as_deref(), Some("a"));
        assert_eq!(f.used(), ["link", "from", "exclude"]);
        assert_eq!(f.take("from").as_deref(), Some("a"));
        assert_eq!(f.take("from"), None);
        assert_eq!(f.take_strings("exclude"), ["x", "y"]);
        let f = Flags::parse(&w(&["--link=FALSE"]), DECL).unwrap();
        assert_eq!(f.opt_bool("link"), Some(false));
    }

    #[test]
    fn errors() {
        let e = |v: &[&str]| Flags::parse(&w(v), DECL).err().map(|e| e.to_string());
        assert_eq!(
            e(&["--form=a"]).unwrap(),
            "unknown flag: form (did you mean from?)"
        );
        assert_eq!(
            e(&["--from=a", "--from=b"]).unwrap(),
            "duplicate flag specified: from"
        );
        assert_eq!(e(&["--from"]).unwrap(), "missing a value on flag: from");
        assert_eq!(e(&["--link="]).unwrap(), "missing a value on flag: link");
        assert_eq!(
            e(&["--link=yes"]).unwrap(),
            "expecting boolean value for flag link, not: yes"
        );
        assert_eq!(e(&["-x"]).unwrap(), "arg should start with -- : -x");
    }
}

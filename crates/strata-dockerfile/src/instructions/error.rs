//! Errors of the instruction layer (messages follow BuildKit's), and the
//! "did you mean" suggestion helper.

use crate::parser::go_quote;

fn did_you_mean(s: &Option<String>) -> String {
    match s {
        Some(m) => format!(" (did you mean {m}?)"),
        None => String::new(),
    }
}

/// Why an instruction is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstructionError {
    /// A keyword BuildKit does not know.
    #[error("unknown instruction: {name}{}", did_you_mean(.suggestion))]
    UnknownInstruction {
        /// The keyword as written.
        name: String,
        /// The closest known instruction, if any is close.
        suggestion: Option<String>,
    },
    /// An instruction other than ARG before the first FROM.
    #[error("no build stage in current context")]
    NoStage,
    /// `VOLUME`, `EXPOSE`, `ENV`… without arguments.
    #[error("{0} requires at least one argument")]
    AtLeastOneArgument(&'static str),
    /// `WORKDIR a b` in JSON form, `USER`, `MAINTAINER`, `STOPSIGNAL`.
    #[error("{0} requires exactly one argument")]
    ExactlyOneArgument(&'static str),
    /// `COPY a`.
    #[error(
        "{0} requires at least two arguments, but only one was provided. Destination could not be determined."
    )]
    NoDestination(&'static str),
    /// `ENV =x`, `ARG =x`.
    #[error("{0} names can not be blank")]
    BlankName(&'static str),
    /// Malformed key/value list.
    #[error("Bad input to {0}, too many arguments")]
    TooManyArguments(&'static str),
    /// `FROM a b`.
    #[error("FROM requires either one or three arguments")]
    FromArity,
    /// `FROM a AS 1x`.
    #[error("invalid name for build stage: {}, name can't start with a number or contain symbols", go_quote(.0))]
    InvalidStageName(String),
    /// `ONBUILD ONBUILD …`.
    #[error("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")]
    OnbuildChain,
    /// `ONBUILD FROM` / `ONBUILD MAINTAINER`.
    #[error("{0} isn't allowed as an ONBUILD trigger")]
    OnbuildTrigger(String),
    /// `SHELL /bin/sh -c` (must be JSON).
    #[error("{0} requires the arguments to be in JSON form")]
    NotJson(&'static str),
    /// `HEALTHCHECK NONE x`.
    #[error("HEALTHCHECK NONE takes no arguments")]
    HealthcheckNoneArgs,
    /// `HEALTHCHECK CMD` without a command.
    #[error("Missing command after HEALTHCHECK CMD")]
    HealthcheckMissingCommand,
    /// `HEALTHCHECK FOO`.
    #[error("Unknown type {} in HEALTHCHECK (try CMD)", go_quote(.0))]
    HealthcheckType(String),
    /// A healthcheck duration below 1ms.
    #[error("Interval {} cannot be less than 1ms", go_quote(.0))]
    IntervalTooShort(String),
    /// Not a Go duration (`time: invalid duration "x"`).
    #[error("{0}")]
    Duration(String),
    /// `--retries=x` (`strconv.ParseInt: parsing "x": invalid syntax`).
    #[error("strconv.ParseInt: parsing {}: {reason}", go_quote(.value))]
    Integer {
        /// The text.
        value: String,
        /// `invalid syntax` or `value out of range`.
        reason: &'static str,
    },
    /// `--retries=-1`.
    #[error("--retries cannot be negative ({0})")]
    NegativeRetries(i64),
    /// `VOLUME ""`.
    #[error("VOLUME specified can not be an empty string")]
    EmptyVolume,
    /// A flag the instruction does not have.
    #[error("unknown flag: {name}{}", did_you_mean(.suggestion))]
    UnknownFlag {
        /// Flag name without dashes.
        name: String,
        /// The closest known flag.
        suggestion: Option<String>,
    },
    /// A single-valued flag given twice.
    #[error("duplicate flag specified: {0}")]
    DuplicateFlag(String),
    /// `--chown` without `=value`.
    #[error("missing a value on flag: {0}")]
    MissingFlagValue(String),
    /// `--link=maybe`.
    #[error("expecting boolean value for flag {name}, not: {value}")]
    BadBool {
        /// Flag name.
        name: String,
        /// What was given.
        value: String,
    },
    /// A flag word without `--`.
    #[error("arg should start with -- : {0}")]
    FlagWithoutDashes(String),
    /// `--mount` is not valid CSV.
    #[error("failed to parse csv mounts: {0}")]
    MountCsv(String),
    /// `type=foo`.
    #[error("unsupported mount type {}{}", go_quote(.value), did_you_mean(.suggestion))]
    MountType {
        /// What was given.
        value: String,
        /// The closest mount type.
        suggestion: Option<String>,
    },
    /// A field without `=` that is not a known boolean.
    #[error("invalid field '{0}' must be a key=value pair")]
    MountField(String),
    /// `required` on a bind mount, etc.
    #[error("unexpected key '{key}' for mount type '{kind}'")]
    MountKeyForType {
        /// The key.
        key: String,
        /// The mount type.
        kind: String,
    },
    /// A key no mount type has.
    #[error("unexpected key '{key}' in '{field}'{}", did_you_mean(.suggestion))]
    MountKey {
        /// The key.
        key: String,
        /// The whole field.
        field: String,
        /// The closest key.
        suggestion: Option<String>,
    },
    /// `ro=maybe`.
    #[error("invalid value for {key}: {value}")]
    MountBool {
        /// The key.
        key: String,
        /// What was given.
        value: String,
    },
    /// `mode=9`, `uid=x`.
    #[error("invalid value {value} for {key}")]
    MountNumber {
        /// The key.
        key: &'static str,
        /// What was given.
        value: String,
    },
    /// `sharing=foo`.
    #[error("unsupported sharing value {}", go_quote(.0))]
    MountSharing(String),
    /// `mode`/`uid`/`gid` on a bind or tmpfs mount, `size` on non-tmpfs.
    #[error("{key} not allowed for {} type mounts", go_quote(.kind))]
    MountNotAllowed {
        /// The key.
        key: &'static str,
        /// The mount type.
        kind: String,
    },
    /// `sharing` on a non-cache mount.
    #[error("invalid cache sharing set for {0} mount")]
    MountSharingType(String),
    /// A secret mount with `from`.
    #[error("secret mount should not have a from")]
    SecretFrom,
    /// A secret mount with `sharing`.
    #[error("secret mount should not define sharing")]
    SecretSharing,
    /// A secret mount with no id, source, target or env.
    #[error("invalid secret mount. one of source, target required")]
    SecretTarget,
    /// A secret mount with both `source` and `id`.
    #[error("both source and id can't be set")]
    SecretSourceAndId,
    /// `from=$x` in a mount, which BuildKit cannot resolve.
    #[error("'{0}' doesn't support variable expansion, define alias stage instead")]
    MountFromVariable(String),
    /// A bad tmpfs `size`.
    #[error("invalid size: '{0}'")]
    Size(String),
    /// `--network=foo`.
    #[error("unsupported network mode {}", go_quote(.0))]
    Network(String),
    /// `--security=foo`.
    #[error("unsupported security mode {}", go_quote(.0))]
    Security(String),
    /// `--chmod=9`.
    #[error("invalid chmod parameter: '{0}'. it should be octal string and between 0 and 07777")]
    Chmod(String),
    /// `COPY src <<EOF`.
    #[error("{command} cannot accept a heredoc as {what}")]
    Heredoc {
        /// COPY or ADD.
        command: &'static str,
        /// "a destination".
        what: &'static str,
    },
    /// `--checksum=` that is not `algorithm:hex`.
    #[error("{0}")]
    Checksum(&'static str),
    /// `EXPOSE abc`.
    #[error("invalid containerPort: {0}")]
    Port(String),
    /// `EXPOSE 80/foo`.
    #[error("invalid proto: {0}")]
    Proto(String),
    /// `STOPSIGNAL FOO`.
    #[error("Invalid signal: {0}")]
    Signal(String),
    /// `FROM $EMPTY`.
    #[error("base name ({0}) should not be blank")]
    BlankBase(String),
    /// `FROM --platform=$EMPTY`.
    #[error("empty platform value from expression {0}")]
    BlankPlatform(String),
    /// `FROM --platform=foo/bar/baz/qux`.
    #[error("failed to parse platform {value}: {reason}")]
    Platform {
        /// The expanded value.
        value: String,
        /// Why it is invalid.
        reason: String,
    },
    /// An ONBUILD trigger that does not parse.
    #[error("{0}")]
    Trigger(String),
}

/// The closest candidate by Levenshtein distance (less than 3 edits), like
/// BuildKit's `suggest.Search`; `None` when `value` is itself a candidate.
pub(crate) fn suggest(value: &str, candidates: &[&str], case_sensitive: bool) -> Option<String> {
    if value.is_empty() {
        return None;
    }
    let norm = |s: &str| {
        if case_sensitive {
            s.to_string()
        } else {
            s.to_lowercase()
        }
    };
    let v = norm(value);
    let mut best: Option<(usize, String)> = None;
    for c in candidates {
        let c = norm(c);
        if c == v {
            return None;
        }
        let d = levenshtein(&v, &c);
        if d < 3 && best.as_ref().is_none_or(|(bd, _)| d < *bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let k = ["run", "copy", "from"];
        assert_eq!(suggest("RUNN", &k, false).as_deref(), Some("run"));
        assert_eq!(suggest("COPPY", &k, false).as_deref(), Some("copy"));
        assert_eq!(suggest("xyzzy", &k, false), None);
        assert_eq!(suggest("run", &k, false), None);
        let e = InstructionError::UnknownInstruction {
            name: "RUNN".into(),
            suggestion: Some("run".into()),
        };
        assert_eq!(
            e.to_string(),
            "unknown instruction: RUNN (did you mean run?)"
        );
    }
}

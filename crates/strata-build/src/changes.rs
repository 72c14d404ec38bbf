//! `--change` for `image import` and `container commit`: each change is a
//! Dockerfile instruction applied to the new image's config, as docker's
//! `BuildFromConfig` does. Only the instructions docker allows are
//! accepted; `$VAR` references expand against the config's own env.

use strata_dockerfile::Dockerfile;
use strata_dockerfile::args::{BuildOptions, GlobalArgs};
use strata_oci::ImageConfig;

use crate::config_ops::{self, StageState};

/// The instructions docker accepts in `--change`.
pub const VALID_CHANGES: &[&str] = &[
    "cmd",
    "entrypoint",
    "env",
    "expose",
    "healthcheck",
    "label",
    "onbuild",
    "stopsignal",
    "user",
    "volume",
    "workdir",
];

/// Errors from `--change`.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// Not an instruction `--change` accepts.
    #[error("{0} is not a valid change command")]
    NotAllowed(String),
    /// The change does not parse as a Dockerfile instruction.
    #[error("invalid --change {change:?}: {message}")]
    Parse {
        /// The change as given.
        change: String,
        /// Why.
        message: String,
    },
    /// Applying it to the config failed.
    #[error(transparent)]
    Apply(#[from] config_ops::ConfigOpError),
}

/// Applies every change, in order, to `image`.
pub fn apply_changes(image: &mut ImageConfig, changes: &[String]) -> Result<(), ChangeError> {
    let mut state = StageState::default();
    for change in changes {
        let keyword = change
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if !VALID_CHANGES.contains(&keyword.as_str()) {
            return Err(ChangeError::NotAllowed(keyword));
        }
        let parse_err = |message: String| ChangeError::Parse {
            change: change.clone(),
            message,
        };
        let src = format!("FROM scratch\n{change}\n");
        let df = Dockerfile::parse(src.as_bytes()).map_err(|e| parse_err(e.to_string()))?;
        let global =
            GlobalArgs::new(&df, &BuildOptions::default()).map_err(|e| parse_err(e.to_string()))?;
        let stage = df
            .target(None)
            .ok_or_else(|| parse_err("no instruction".into()))?;
        let mut scope = global.stage_scope(stage, image.env_pairs());
        for cmd in &stage.commands {
            let step = scope.apply(cmd).map_err(|e| parse_err(e.to_string()))?;
            config_ops::apply(image, &step.command, &mut state)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_allowed_changes() {
        let mut img = ImageConfig::default();
        img.config_mut().set_env("BASE", "/opt");
        apply_changes(
            &mut img,
            &[
                "CMD [\"sh\"]".into(),
                "ENV APP=$BASE/app".into(),
                "WORKDIR /srv".into(),
            ],
        )
        .unwrap();
        let cc = img.config.unwrap();
        assert_eq!(cc.cmd, Some(vec!["sh".into()]));
        assert_eq!(cc.get_env("APP"), Some("/opt/app"));
        assert_eq!(cc.working_dir.as_deref(), Some("/srv"));
    }

    #[test]
    fn rejects_others() {
        let mut img = ImageConfig::default();
        let e = apply_changes(&mut img, &["RUN rm -rf /".into()]).unwrap_err();
        assert_eq!(e.to_string(), "run is not a valid change command");
        // Invalid JSON is shell form, as in docker.
        apply_changes(&mut img, &["CMD [\"unterminated".into()]).unwrap();
        let cmd = img.config.as_ref().unwrap().cmd.clone().unwrap();
        assert_eq!(cmd, ["/bin/sh", "-c", "[\"unterminated"]);
        let e = apply_changes(&mut img, &["EXPOSE notaport".into()]).unwrap_err();
        assert!(e.to_string().contains("notaport"), "{e}");
    }
}

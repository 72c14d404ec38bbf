//! The images a plan starts from: resolved from the store, or pulled
//! (always with `--pull`), the pull reported for the instruction that
//! needs it (see [`crate::options::ImagePuller`]); and the platform check.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use strata_dockerfile::LineRange;
use strata_oci::Reference;
use strata_registry::PullOptions;
use strata_store::{Image, StoreError};

use super::Planner;
use crate::error::{BuildError, Result};
use crate::progress::StepRef;

impl Planner<'_> {
    /// Resolves an image reference from the store, pulling it when absent
    /// (or always with `--pull`); the pull is reported for instruction
    /// `at` (see [`crate::options::ImagePuller`]).
    pub fn image(&self, reference: &str, range: LineRange, at: StepRef) -> Result<(Image, bool)> {
        let named = Reference::parse(reference).map_err(|e| {
            BuildError::Graph(crate::graph::GraphError {
                range,
                message: format!("failed to parse stage name {reference:?}: {e}"),
            })
        })?;
        if !self.req.pull {
            match self.store.resolve_image(reference) {
                Ok(img) => return Ok((img, false)),
                Err(StoreError::ImageNotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let v = self
            .progress
            .vertex(&format!("[internal] load metadata for {named}"));
        self.progress.start(v);
        let pulled = match &self.req.puller {
            Some(p) => self.pull_shown(p.as_ref(), &named, at),
            None => {
                let opts = PullOptions {
                    registry: self.req.registry.clone(),
                    ..PullOptions::default()
                };
                strata_registry::pull(self.store, &named, &opts).map_err(|e| e.to_string())
            }
        };
        match pulled {
            Ok(img) => {
                self.progress.done(v);
                Ok((img, true))
            }
            Err(reason) => {
                self.progress.error(v, &reason);
                Err(BuildError::BaseImage {
                    reference: reference.to_string(),
                    reason,
                }
                .at_step(&format!("FROM {reference}"), range, Vec::new()))
            }
        }
    }

    /// Pulls with `puller`, its messages shown as they come for `at`;
    /// what arrives once the pull returned is dropped (a sender left in a
    /// transfer that outlives it must not hold the build).
    fn pull_shown(
        &self,
        puller: &dyn crate::options::ImagePuller,
        named: &Reference,
        at: StepRef,
    ) -> std::result::Result<Image, String> {
        let (tx, rx) = std::sync::mpsc::channel();
        let done = &AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(move || {
                loop {
                    match rx.recv_timeout(Duration::from_millis(50)) {
                        Ok(m) => self.progress.instruction_message(at, m),
                        Err(RecvTimeoutError::Timeout) if !done.load(Ordering::SeqCst) => {}
                        Err(_) => break,
                    }
                }
                for m in rx.try_iter() {
                    self.progress.instruction_message(at, m);
                }
            });
            let pulled = puller.pull(named, tx);
            done.store(true, Ordering::SeqCst);
            pulled
        })
    }

    pub(super) fn check_platform(&self, p: &str, range: LineRange) -> Result<()> {
        if strata_oci::is_host_platform(p) {
            return Ok(());
        }
        Err(BuildError::Platform {
            requested: p.to_string(),
            host: self.platform.clone(),
        }
        .at_step("FROM", range, Vec::new()))
    }
}

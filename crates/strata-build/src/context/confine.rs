//! The files a build reads from its context besides COPY/ADD sources — the
//! Dockerfile and the ignore file — never lead out of it.
//!
//! A context may come from anywhere (a cloned repository, a tar on stdin),
//! so `Dockerfile -> /etc/shadow` is hostile: reading it would show a host
//! file in a parse error. A path *named inside* the context (the default
//! `<context>/Dockerfile`, `-f <context>/sub/Dockerfile`,
//! `<context>/.dockerignore`) must still be inside it once every symlink is
//! followed; one that leads out is refused before a byte is read. A symlink
//! that stays inside is followed, as docker follows it. A path the user
//! names outside the context (`-f /elsewhere/Dockerfile`) is the user's own
//! choice and is read as given, as docker does. See: issue 9.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use super::{ContextError, Result};

/// `p` made absolute (from the current directory) and cleaned lexically.
fn lexical(p: &Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    let mut out = PathBuf::from("/");
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// Where to read `file`, a file taken from the context directory
/// `context` (see the module doc): its real path (symlinks followed), or
/// `file` itself when it does not resolve (the read then fails with the
/// usual "no such file"). A path named inside the context whose real path
/// is outside it is [`ContextError::OutsideContext`].
pub fn confined_file(context: &Path, file: &Path) -> Result<PathBuf> {
    let ctx_lexical = lexical(context);
    let ctx_real = std::fs::canonicalize(context).unwrap_or_else(|_| ctx_lexical.clone());
    let named = lexical(file);
    let named_inside = named.starts_with(&ctx_lexical) || named.starts_with(&ctx_real);
    let Ok(real) = std::fs::canonicalize(file) else {
        return Ok(file.to_path_buf());
    };
    if named_inside && !real.starts_with(&ctx_real) {
        return Err(ContextError::OutsideContext {
            file: file.to_path_buf(),
            target: real,
        });
    }
    Ok(real)
}

/// Reads `file` from the context directory `context` after
/// [`confined_file`]; the real path is opened without following a final
/// symlink, so a link swapped in after the check is not followed either.
pub fn read_confined(context: &Path, file: &Path) -> Result<Vec<u8>> {
    let real = confined_file(context, file)?;
    let mut f = std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&real)
        .map_err(ContextError::io("open", file))?;
    let mut out = Vec::new();
    f.read_to_end(&mut out)
        .map_err(ContextError::io("read", file))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn symlinks_out_of_the_context_are_refused() {
        let t = tempfile::tempdir().unwrap();
        let ctx = t.path().join("ctx");
        std::fs::create_dir_all(ctx.join("sub")).unwrap();
        std::fs::write(t.path().join("secret"), b"TOP SECRET").unwrap();
        std::fs::write(ctx.join("sub/real"), b"FROM scratch\n").unwrap();
        symlink("sub/real", ctx.join("Dockerfile")).unwrap();
        symlink(t.path().join("secret"), ctx.join("abs")).unwrap();
        symlink("../secret", ctx.join("rel")).unwrap();
        symlink("/", ctx.join("up")).unwrap();
        // Inside: followed.
        assert_eq!(
            read_confined(&ctx, &ctx.join("Dockerfile")).unwrap(),
            b"FROM scratch\n"
        );
        // Out: refused, naming the link, never its content.
        for name in ["abs", "rel", "up/etc/hostname"] {
            let e = read_confined(&ctx, &ctx.join(name)).unwrap_err();
            let msg = e.to_string();
            assert!(msg.contains("outside the build context"), "{name}: {msg}");
            assert!(!msg.contains("TOP SECRET"), "{msg}");
        }
        // Named outside: the user's choice.
        assert_eq!(
            read_confined(&ctx, &t.path().join("secret")).unwrap(),
            b"TOP SECRET"
        );
        // Missing: the ordinary error.
        let e = read_confined(&ctx, &ctx.join("nope")).unwrap_err();
        assert!(e.to_string().contains("No such file"), "{e}");
    }
}

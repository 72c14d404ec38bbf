//! strata-go: the pieces of Go's standard library and of docker/go-units
//! whose exact behaviour docker users see, restated once for the whole
//! workspace. Pure: no I/O, no other strata crate, so every crate (the
//! Dockerfile front end included) can use it.
//!
//! | module | Go counterpart | users |
//! | --- | --- | --- |
//! | [`quote`] | `strconv.Quote`, `QuoteToASCII`, `QuoteRune`, `unicode.IsPrint` | error texts, `ps`, templates, BuildKit's AST dump |
//! | [`duration`] | `time.ParseDuration` | `--stop-timeout`, `--health-*`, `--since`, HEALTHCHECK flags |
//! | [`size`] | go-units `RAMInBytes`, `FromHumanSize` | `--memory`, `--shm-size`, tmpfs `size=` |
//!
//! ```
//! assert_eq!(strata_go::size::ram_in_bytes("1GiB"), Ok(1 << 30));
//! assert_eq!(strata_go::duration::parse_go_duration("1m30s"), Ok(90_000_000_000));
//! assert_eq!(strata_go::quote::go_quote("a\"b"), r#""a\"b""#);
//! ```

pub mod duration;
pub mod quote;
pub mod size;

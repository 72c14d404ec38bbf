//! Context handling benchmark (see `bench/context.sh`): one phase per
//! process so each reports its own peak RSS.
//!
//! ```text
//! bench_context select CONTEXT_DIR STORE_ROOT SOURCE        # select + flush; prints ms and counters
//! bench_context copy   CONTEXT_DIR STORE_ROOT SOURCE LAYER  # select + copy_into LAYER (must not exist)
//! ```

use std::path::Path;
use std::time::Instant;

use strata_build::context::{BuildContext, StatIndex};
use strata_build::fileops::{self, CopyOptions, SelectOptions, SourceTree};
use strata_store::Store;

fn peak_rss_mb() -> f64 {
    // SAFETY: rusage is plain old data; all zeroes is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes one rusage into the struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    ru.ru_maxrss as f64 / 1024.0
}

fn cpu_ms() -> f64 {
    // SAFETY: rusage is plain old data; all zeroes is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes one rusage into the struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 * 1000.0 + t.tv_usec as f64 / 1000.0;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        eprintln!("usage: bench_context select|copy CONTEXT STORE_ROOT SOURCE [LAYER]");
        std::process::exit(2);
    }
    let (mode, ctx_dir, store_root, source) = (&args[1], &args[2], &args[3], &args[4]);
    let store = Store::open(store_root)?;
    let c0 = cpu_ms();
    let t0 = Instant::now();
    let ctx = BuildContext::from_dir(Path::new(ctx_dir), None)?;
    let mut index = StatIndex::load(&store, ctx.root())?;
    let tree = SourceTree::context(&ctx);
    let sel = fileops::select(
        &tree,
        std::slice::from_ref(source),
        &SelectOptions::default(),
        &mut index,
    )?;
    let t_select = ms(t0);
    let c_select = cpu_ms() - c0;
    let t1 = Instant::now();
    let key = sel.checksum();
    let t_key = ms(t1);
    let t2 = Instant::now();
    index.flush(&store)?;
    let t_flush = ms(t2);
    let st = index.stats();
    println!(
        "  select {:7.1} ms (cpu {:6.1} ms)  checksum {:6.1} ms  flush {:7.1} ms  | {} entries, {} files, {:.1} MB; hashed {} ({:.1} MB), index hits {}, racy {}  key {}",
        t_select,
        c_select,
        t_key,
        t_flush,
        sel.stats.entries,
        sel.stats.files,
        sel.stats.bytes as f64 / 1e6,
        st.hashed,
        st.hashed_bytes as f64 / 1e6,
        st.hits,
        st.racy,
        &key.hex()[..12]
    );
    if mode == "copy" {
        let layer = Path::new(args.get(5).ok_or("copy needs LAYER")?);
        std::fs::create_dir(layer)?;
        let c3 = cpu_ms();
        let t3 = Instant::now();
        let stats = fileops::copy_into(&tree, &sel, layer, "/data/", &CopyOptions::default())?;
        let t_copy = ms(t3);
        let c_copy = cpu_ms() - c3;
        println!(
            "  copy_into {:8.1} ms (cpu {:7.1} ms)  | {} files, {} dirs, {:.1} MB",
            t_copy,
            c_copy,
            stats.files,
            stats.dirs,
            stats.bytes as f64 / 1e6
        );
    }
    println!("  peak RSS {:.1} MB", peak_rss_mb());
    Ok(())
}

//! Layer create/apply throughput (run by `bench/layer.sh`).
//!
//! ```text
//! bench_layer apply-save <docker-save.tar> <workdir>   apply each */layer.tar as a snapshot
//! bench_layer apply-tar  <rootfs.tar> <dir>            apply one plain tar (merge)
//! bench_layer create     <dir> <none|gzip|zstd> [lvl]  write a layer of <dir> to a sink
//! ```
//! Each prints one line: bytes, wall time, MB/s, CPU seconds (user+sys) and
//! CPU seconds per 100 MB, and the process's peak RSS so far.

use std::fs::File;
use std::io::{self, BufReader, Write};
use std::path::Path;
use std::time::Instant;

use strata_store::layer::{self, ApplyMode, ApplyOptions, Compression, TarOptions};

fn cpu_and_rss() -> (f64, u64) {
    // SAFETY: getrusage fills the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a rusage.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (t(ru.ru_utime) + t(ru.ru_stime), ru.ru_maxrss as u64)
}

struct Meter {
    wall: Instant,
    cpu: f64,
}

impl Meter {
    fn start() -> Self {
        Meter {
            wall: Instant::now(),
            cpu: cpu_and_rss().0,
        }
    }

    fn report(&self, what: &str, bytes: u64, extra: &str) {
        let wall = self.wall.elapsed().as_secs_f64();
        let (cpu, rss_kb) = cpu_and_rss();
        let cpu = cpu - self.cpu;
        let mb = bytes as f64 / 1e6;
        println!(
            "{what:<28} {mb:9.1} MB  {wall:7.3} s  {:8.1} MB/s  cpu {cpu:6.3} s ({:.3} s/100MB)  peak rss {} MB{extra}",
            mb / wall,
            cpu / mb * 100.0,
            rss_kb / 1024,
        );
    }
}

fn apply_save(save: &Path, work: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let mut outer = tar::Archive::new(BufReader::with_capacity(1 << 20, File::open(save)?));
    let m = Meter::start();
    let (mut total, mut n) = (0u64, 0);
    for e in outer.entries()? {
        let mut e = e?;
        let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        if !name.ends_with("layer.tar") {
            continue;
        }
        let dir = work.join(format!("snap{n}"));
        std::fs::create_dir_all(&dir)?;
        let lm = Meter::start();
        let a = layer::apply_layer(&mut e, &dir, &ApplyOptions::new(ApplyMode::Snapshot))?;
        lm.report(
            &format!("  layer {n}"),
            a.tar_size,
            &format!("  {} entries  {}", a.entries, a.diff_id.short()),
        );
        total += a.tar_size;
        n += 1;
    }
    m.report(&format!("apply {n} layers (snapshot)"), total, "");
    Ok(())
}

fn apply_tar(tar: &Path, dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    let m = Meter::start();
    let a = layer::apply_layer(File::open(tar)?, dir, &ApplyOptions::new(ApplyMode::Merge))?;
    m.report(
        "apply rootfs tar (merge)",
        a.tar_size,
        &format!("  {} entries", a.entries),
    );
    Ok(())
}

fn create(dir: &Path, comp: &str, level: Option<i64>) -> Result<(), Box<dyn std::error::Error>> {
    let c = match (comp, level) {
        ("none", _) => Compression::None,
        ("gzip", None) => Compression::GZIP,
        ("gzip", Some(l)) => Compression::Gzip {
            level: u32::try_from(l)?,
        },
        ("zstd", None) => Compression::ZSTD,
        ("zstd", Some(l)) => Compression::Zstd {
            level: i32::try_from(l)?,
        },
        _ => return Err(format!("unknown compression {comp}").into()),
    };
    let m = Meter::start();
    let w = layer::write_layer(dir, &TarOptions::default(), c, io::sink())?;
    m.report(
        &format!("create+{comp}"),
        w.tar_size,
        &format!(
            "  -> {:.1} MB blob ({:.1}%)  {} entries",
            w.blob_size as f64 / 1e6,
            w.blob_size as f64 * 100.0 / w.tar_size as f64,
            w.entries
        ),
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let a = |i: usize| -> Result<&str, Box<dyn std::error::Error>> {
        args.get(i)
            .map(String::as_str)
            .ok_or_else(|| "missing argument; see the doc comment".into())
    };
    match a(0)? {
        "apply-save" => apply_save(Path::new(a(1)?), Path::new(a(2)?))?,
        "apply-tar" => apply_tar(Path::new(a(1)?), Path::new(a(2)?))?,
        "create" => create(
            Path::new(a(1)?),
            a(2)?,
            args.get(3).map(|s| s.parse()).transpose()?,
        )?,
        other => return Err(format!("unknown mode {other}").into()),
    }
    io::stdout().flush()?;
    Ok(())
}

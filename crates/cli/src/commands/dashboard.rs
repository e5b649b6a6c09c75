//! `benchkeep report --out DIR`: the static dashboard of a store (rendering in `dashboard`).

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Component, Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, Result};
use benchkeep_engine::Session;
use benchkeep_report::dashboard;

use super::emit;
use crate::Outcome;
use crate::args::ReportArgs;

/// `benchkeep report`: the site of the store's runs written to `--out` (and served with
/// `--serve`); what could not be read is named, and makes the outcome partial.
pub(super) fn report(session: &Session, args: &ReportArgs) -> Result<Outcome> {
    let started = Instant::now();
    let site = session.site(&args.request())?;
    let skipped = site.skipped.clone();
    let events = session.events();
    events.detail(&format!(
        "analysed {} key(s) in {:.2} s",
        site.keys.len(),
        started.elapsed().as_secs_f64()
    ));
    let pages = dashboard::render(&site);
    events.detail(&format!(
        "rendered {} page(s) in {:.2} s",
        pages.len(),
        started.elapsed().as_secs_f64()
    ));
    write_site(&args.out, &pages)?;
    for line in &skipped {
        eprintln!("skipped: {line}");
    }
    let benchmarks: usize = site.keys.iter().map(|k| k.series.len()).sum();
    let runs: usize = site.keys.iter().map(|k| k.runs).sum();
    emit(&format!(
        "wrote {} page(s) for {} key(s), {benchmarks} benchmark(s), {runs} run(s) to {} in {:.1} s{}\n",
        pages.len(),
        site.keys.len(),
        args.out.display(),
        started.elapsed().as_secs_f64(),
        if skipped.is_empty() {
            String::new()
        } else {
            format!(
                "; {} item(s) skipped (named above and on the page)",
                skipped.len()
            )
        }
    ))?;
    if let Some(port) = args.serve {
        serve(&args.out, port, session.interrupt())?;
        return Ok(Outcome::Interrupted);
    }
    Ok(if skipped.is_empty() {
        Outcome::Passed
    } else {
        Outcome::Partial
    })
}

/// Writes the pages under `out`, replacing the pages of an earlier report there.
fn write_site(out: &Path, pages: &[dashboard::Page]) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let earlier = out.join("k");
    if earlier.is_dir()
        && std::fs::read_to_string(out.join("index.html"))
            .is_ok_and(|page| page.contains("<a href=\"index.html\">benchkeep</a>"))
    {
        // An earlier report's key pages: stale benchmark pages must not linger.
        std::fs::remove_dir_all(&earlier)
            .with_context(|| format!("cannot replace {}", earlier.display()))?;
    }
    for (path, text) in pages {
        let path = out.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// A preview server on 127.0.0.1: GET of files under `root`, nothing else, until Ctrl-C (the session's interrupt flag, polled between
/// connections; the command then ends as interrupted, exit 130). One request per connection,
/// each answered on a thread of its own ([`answer`]).
fn serve(root: &Path, port: u16, interrupt: &benchkeep_runner::command::Interrupt) -> Result<()> {
    // Requests are resolved against the real path, so that a symlink in the site cannot lead
    // out of it.
    let root = &root
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", root.display()))?;
    let listener = std::net::TcpListener::bind(("127.0.0.1", port))
        .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
    let address = listener.local_addr()?;
    eprintln!(
        "serving {} on http://{address}/ (Ctrl-C stops)",
        root.display()
    );
    listener
        .set_nonblocking(true)
        .context("cannot poll the listening socket")?;
    loop {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if interrupt.is_set() {
                    return Ok(()); // the caller reports the interruption
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
                continue;
            }
            Err(_) => continue,
        };
        // Each connection on a thread of its own: a silent client costs only its thread.
        let root = root.clone();
        std::thread::spawn(move || answer(stream, &root));
    }
}

/// Reads one request (its line and headers, at most 64 KiB, 5 s to send them) and answers it.
fn answer(mut stream: std::net::TcpStream, root: &Path) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
    let mut reader = BufReader::new(std::io::Read::take(&stream, 64 * 1024));
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    // The headers, read to their end so that closing the connection does not reset it.
    let mut header = String::new();
    while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
        header.clear();
    }
    let (status, kind, body) = match resolve(root, &line) {
        Some(path) => match std::fs::read(&path) {
            Ok(body) => ("200 OK", content_type(&path), body),
            Err(_) => ("404 Not Found", "text/plain", b"not found\n".to_vec()),
        },
        None => ("404 Not Found", "text/plain", b"not found\n".to_vec()),
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(&body);
}

/// The file a request line asks for, if it is a GET of a file whose real path (symlinks
/// followed) is inside `root` (itself a real path).
fn resolve(root: &Path, request: &str) -> Option<PathBuf> {
    let mut words = request.split_whitespace();
    if words.next()? != "GET" {
        return None;
    }
    let target = words.next()?.split(['?', '#']).next()?;
    let decoded = percent_decode(target)?;
    let relative = Path::new(decoded.trim_start_matches('/'));
    if relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return None; // `..`, absolute paths: never outside the site
    }
    let path = root.join(relative);
    let path = if path.is_dir() {
        path.join("index.html")
    } else {
        path
    };
    let real = path.canonicalize().ok()?;
    (real.starts_with(root) && real.is_file()).then_some(real)
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("css") => "text/css",
        Some("js") => "text/javascript",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preview_server_never_leaves_the_site() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path().canonicalize().unwrap();
        let root = &dir.join("site");
        std::fs::create_dir_all(root.join("k/a")).unwrap();
        std::fs::create_dir_all(root.join("k/a@b/b")).unwrap();
        std::fs::write(root.join("k/a/index.html"), "page").unwrap();
        std::fs::write(root.join("k/a@b/b/1.html"), "chart").unwrap();
        std::fs::write(dir.join("secret.txt"), "outside").unwrap();
        std::os::unix::fs::symlink(dir.join("secret.txt"), root.join("link.txt")).unwrap();
        std::os::unix::fs::symlink(&dir, root.join("up")).unwrap();
        std::os::unix::fs::symlink(root.join("k/a/index.html"), root.join("inside.html")).unwrap();
        assert_eq!(
            resolve(root, "GET /k/a/ HTTP/1.1"),
            Some(root.join("k/a/index.html"))
        );
        assert_eq!(
            resolve(root, "GET /k/a%40b/b/1.html?x=1 HTTP/1.1"),
            Some(root.join("k/a@b/b/1.html"))
        );
        // Symlinks are followed only where they stay inside the site.
        assert_eq!(resolve(root, "GET /link.txt HTTP/1.1"), None);
        assert_eq!(resolve(root, "GET /up/secret.txt HTTP/1.1"), None);
        assert_eq!(
            resolve(root, "GET /inside.html HTTP/1.1"),
            Some(root.join("k/a/index.html"))
        );
        assert_eq!(resolve(root, "GET /missing.html HTTP/1.1"), None);
        assert_eq!(resolve(root, "GET /../etc/passwd HTTP/1.1"), None);
        assert_eq!(resolve(root, "GET /k/%2e%2e/%2e%2e/x HTTP/1.1"), None);
        assert_eq!(resolve(root, "POST / HTTP/1.1"), None);
    }
}

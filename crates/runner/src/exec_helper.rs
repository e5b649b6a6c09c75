//! `benchkeep-exec`, the small program every measured execution is started through, so that its
//! peak memory is its own.
//!
//! Linux records the spawning process's memory high-water mark in the spawned process when it
//! execs (`exec_mmap` keeps the old address space's peak in the process's `maxrss`). Spawned
//! directly by benchkeep, `true` reported 7.5 MiB, benchkeep's own peak, and a memory regression
//! of a small command could not be seen. GNU time avoids this by forking from its own small
//! process; `benchkeep-exec` (`exec/benchkeep-exec.c`, compiled by the build script) does the
//! same: it stays running for a whole measurement, starts the command each time it is asked,
//! times it from spawn to `wait4`, and answers with one line of figures. It is embedded in this library and written, on first use, to a cache directory (the first of
//! `$BENCHKEEP_CACHE_DIR`, `$XDG_CACHE_HOME/benchkeep`, `~/.cache/benchkeep` and
//! `$TMPDIR/benchkeep-UID` that can hold an executable file), under a name made from its
//! content, so that versions never overwrite each other's helper.
//!
//! When no helper can be used (built without a C compiler, or no directory allows executing a
//! file) commands are spawned directly and their peak memory is withheld rather than reported
//! wrong: [`crate::command::Measurement::peak_rss_unavailable`] says why.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;

/// The helper's bytes, compiled by the build script from `exec/benchkeep-exec.c`.
#[cfg(benchkeep_exec_helper)]
const HELPER: Option<&[u8]> = Some(include_bytes!(concat!(env!("OUT_DIR"), "/benchkeep-exec")));
#[cfg(not(benchkeep_exec_helper))]
const HELPER: Option<&[u8]> = None;

/// The exit status with which the helper says that it, not the command, failed.
const HELPER_FAILED: i32 = 125;

/// The installed helper's path, installing it on the first call; or why there is none (and
/// measurements then leave out peak memory).
///
/// # Errors
///
/// Why no helper can be used: this build had no C compiler, or no candidate directory can hold
/// an executable file.
pub fn path() -> Result<&'static Path, &'static str> {
    static INSTALLED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    INSTALLED
        .get_or_init(install)
        .as_deref()
        .map_err(String::as_str)
}

fn install() -> Result<PathBuf, String> {
    let Some(helper) = HELPER else {
        return Err(
            "benchkeep-runner was built without a C compiler, so it has no \
                    benchkeep-exec helper"
                .into(),
        );
    };
    let name = format!("benchkeep-exec-{:016x}", fnv1a(helper));
    let mut refusals = Vec::new();
    for dir in candidate_dirs(|name| std::env::var_os(name)) {
        match install_in(&dir, &name, helper) {
            Ok(path) => return Ok(path),
            Err(e) => refusals.push(format!("{}: {e}", dir.display())),
        }
    }
    Err(format!(
        "no directory could hold an executable benchkeep-exec helper ({}); set \
         BENCHKEEP_CACHE_DIR to a writable directory that allows executing files",
        refusals.join("; ")
    ))
}

fn candidate_dirs(env: impl Fn(&str) -> Option<std::ffi::OsString>) -> Vec<PathBuf> {
    // Absolute: the helper is started in each benchmark's own working directory.
    let var = |name: &str| {
        env(name)
            .filter(|v| !v.is_empty())
            .and_then(|v| std::path::absolute(v).ok())
    };
    let mut dirs = Vec::new();
    if let Some(dir) = var("BENCHKEEP_CACHE_DIR") {
        dirs.push(dir);
    }
    if let Some(cache) = var("XDG_CACHE_HOME") {
        dirs.push(cache.join("benchkeep"));
    } else if let Some(home) = var("HOME") {
        dirs.push(home.join(".cache").join("benchkeep"));
    }
    dirs.push(std::env::temp_dir().join(format!("benchkeep-{}", nix::unistd::getuid())));
    dirs
}

/// Puts the helper at `dir/name` unless an identical one is there, and checks that it runs.
fn install_in(dir: &Path, name: &str, helper: &[u8]) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let meta = std::fs::metadata(dir)?;
    // A directory others can write to could have the helper swapped between check and use.
    if meta.uid() != nix::unistd::getuid().as_raw() || meta.mode() & 0o022 != 0 {
        return Err(std::io::Error::other(
            "not owned by this user, or writable by others",
        ));
    }
    let path = dir.join(name);
    // Only a regular file of ours that nobody else may write is trusted, and then only with the
    // same bytes (a symlink, a FIFO, or a file others could swap is replaced, never read).
    let trusted = std::fs::symlink_metadata(&path).is_ok_and(|m| {
        m.file_type().is_file()
            && m.uid() == nix::unistd::getuid().as_raw()
            && m.mode() & 0o022 == 0
            && m.mode() & 0o100 != 0
            && m.len() == helper.len() as u64
    }) && std::fs::read(&path).is_ok_and(|bytes| bytes == helper);
    if !trusted {
        let mut file = tempfile::Builder::new()
            .prefix(".benchkeep-exec")
            .tempfile_in(dir)?;
        std::io::Write::write_all(&mut file, helper)?;
        file.as_file().sync_all()?;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o755))?;
        // Closed before it is renamed into place whole: a concurrent benchkeep never runs a
        // half-written helper, nor one still open for writing (exec would fail, ETXTBSY).
        file.into_temp_path().persist(&path).map_err(|e| e.error)?;
    }
    check_runs(&path)?;
    Ok(path)
}

/// Runs the helper with no arguments: it must start (a `noexec` mount refuses it) and answer
/// with its usage error.
fn check_runs(path: &Path) -> std::io::Result<()> {
    let mut attempts = 0;
    loop {
        let output = std::process::Command::new(path)
            .stdin(std::process::Stdio::null())
            .output();
        match output {
            Ok(output) if output.status.code() == Some(HELPER_FAILED) => return Ok(()),
            Ok(output) => {
                return Err(std::io::Error::other(format!(
                    "the helper ran but answered {} instead of its usage error",
                    output.status
                )));
            }
            // Another thread may have started a process while the freshly written file was
            // still open for writing in it (ETXTBSY); that clears within milliseconds.
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && attempts < 100 => {
                attempts += 1;
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err(e) => return Err(e),
        }
    }
}

/// 64-bit FNV-1a: names the helper by its content (not a security measure: the content is
/// compared in full before use).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// What the helper reported about one execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Report {
    /// The raw wait status of the command.
    pub(crate) status: i32,
    /// The errno of a failed exec; 0 when the program started.
    pub(crate) exec_errno: i32,
    pub(crate) wall_ns: u64,
    pub(crate) user_ns: u64,
    pub(crate) system_ns: u64,
    pub(crate) maxrss_bytes: u64,
}

impl Report {
    /// The report in one answer line of the helper, or `None` if it is not one.
    pub(crate) fn parse(text: &str) -> Option<Report> {
        let mut fields = text.trim_end().split(' ');
        if fields.next()? != "benchkeep-exec" || fields.next()? != "1" {
            return None;
        }
        let mut value =
            |key: &str| -> Option<&str> { fields.next()?.strip_prefix(key)?.strip_prefix('=') };
        let status = value("status")?.parse().ok()?;
        let exec_errno = value("exec_errno")?.parse().ok()?;
        let wall_ns = value("wall_ns")?.parse().ok()?;
        let user_ns = value("user_ns")?.parse().ok()?;
        let system_ns = value("system_ns")?.parse().ok()?;
        let maxrss_bytes = value("maxrss_bytes")?.parse().ok()?;
        Some(Report {
            status,
            exec_errno,
            wall_ns,
            user_ns,
            system_ns,
            maxrss_bytes,
        })
    }
}

/// A running helper (`benchkeep-exec --serve`), which starts the command each time it is asked,
/// so that an execution costs one process start, not two.
pub(crate) struct Server {
    socket: BufReader<UnixStream>,
    process: Child,
}

impl Server {
    /// Starts `command` (the helper, with its arguments, directory, environment and output set
    /// by the caller) with a socket as its standard input, in a process group of its own, which
    /// the commands it starts share.
    pub(crate) fn start(mut command: Command) -> std::io::Result<Server> {
        let (ours, theirs) = UnixStream::pair()?;
        command.stdin(Stdio::from(std::os::fd::OwnedFd::from(theirs)));
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let process = command.spawn()?;
        Ok(Server {
            socket: BufReader::new(ours),
            process,
        })
    }

    /// The helper's process id, which is also its process group's.
    pub(crate) fn id(&self) -> u32 {
        self.process.id()
    }

    /// Asks for one execution, with `token` as the value of the leftover-marking variable.
    pub(crate) fn send(&mut self, token: &str) -> std::io::Result<()> {
        // One write, one syscall (`writeln!` on the socket made three).
        self.socket
            .get_mut()
            .write_all(format!("run {token}\n").as_bytes())
    }

    /// The answer to the last request; `None` when the helper ended instead of answering.
    pub(crate) fn receive(&mut self) -> std::io::Result<Option<String>> {
        let mut line = String::new();
        Ok((self.socket.read_line(&mut line)? > 0).then_some(line))
    }

    /// Waits for the helper to end (it was killed, or it failed) and says how it ended.
    pub(crate) fn stop(mut self) -> std::io::Result<ExitStatus> {
        let _ = self.socket.get_ref().shutdown(std::net::Shutdown::Both);
        self.process.wait()
    }
}

impl Drop for Server {
    /// The end of its input ends the helper, which is then reaped.
    fn drop(&mut self) {
        let _ = self.socket.get_ref().shutdown(std::net::Shutdown::Both);
        let _ = self.process.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_parse_and_anything_else_is_none() {
        let line = "benchkeep-exec 1 status=256 exec_errno=0 wall_ns=806298 user_ns=681000 \
                    system_ns=0 maxrss_bytes=1015808\n";
        assert_eq!(
            Report::parse(line),
            Some(Report {
                status: 256,
                exec_errno: 0,
                wall_ns: 806_298,
                user_ns: 681_000,
                system_ns: 0,
                maxrss_bytes: 1_015_808,
            })
        );
        for bad in [
            "",
            "benchkeep-exec 2 status=0 exec_errno=0 wall_ns=1 user_ns=1 system_ns=1 maxrss_bytes=1",
            "benchkeep-exec 1 status=0 exec_errno=0 wall_ns=1 user_ns=1 system_ns=1",
            "benchkeep-exec 1 status=0 exec_errno=0 wall_ns=-1 user_ns=1 system_ns=1 maxrss_bytes=1",
            "benchkeep-exec 1 exec_errno=0 status=0 wall_ns=1 user_ns=1 system_ns=1 maxrss_bytes=1",
        ] {
            assert_eq!(Report::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_helper_installs_and_runs() {
        let path = path().expect("this build has a C compiler");
        assert!(path.is_file());
        check_runs(path).unwrap();
    }

    #[test]
    fn cache_directories_are_absolute_in_order() {
        let env = |name: &str| match name {
            "BENCHKEEP_CACHE_DIR" => Some("relative/cache".into()),
            "XDG_CACHE_HOME" => Some("".into()),
            "HOME" => Some("/home/someone".into()),
            _ => None,
        };
        let dirs = candidate_dirs(env);
        assert_eq!(
            dirs[0],
            std::env::current_dir().unwrap().join("relative/cache")
        );
        assert_eq!(dirs[1], Path::new("/home/someone/.cache/benchkeep"));
        assert!(dirs.iter().all(|d| d.is_absolute()), "{dirs:?}");
    }

    #[test]
    fn symlinks_fifos_and_files_others_can_write_are_replaced_never_run() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let helper = HELPER.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let copy = elsewhere.path().join("copy");
        std::fs::write(&copy, helper).unwrap();
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o777)).unwrap();
        let name = "benchkeep-exec-test";
        let path = dir.path().join(name);
        // A symlink to an identical copy others may write.
        std::os::unix::fs::symlink(&copy, &path).unwrap();
        install_in(dir.path(), name, helper).unwrap();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert!(meta.file_type().is_file() && meta.mode() & 0o022 == 0);
        // A FIFO, which a read would wait on forever.
        std::fs::remove_file(&path).unwrap();
        let made = std::process::Command::new("mkfifo").arg(&path).status();
        assert!(made.unwrap().success());
        install_in(dir.path(), name, helper).unwrap();
        assert!(
            std::fs::symlink_metadata(&path)
                .unwrap()
                .file_type()
                .is_file()
        );
        // An identical file that others may write.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
        install_in(dir.path(), name, helper).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o755);
    }

    #[test]
    fn a_directory_others_can_write_to_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = install_in(dir.path(), "helper", HELPER.unwrap()).unwrap_err();
        assert!(err.to_string().contains("writable by others"), "{err}");
    }
}

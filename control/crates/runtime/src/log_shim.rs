//! The log shim: a small process per container (the shoal binary run as
//! `shoal log-shim <log file>`) that holds the read ends of the
//! container's stdout and stderr pipes and appends every line to the log
//! file as a record with the time it was read and its stream
//! ([`crate::log_line`]) — what `service logs --timestamps/--since` and
//! Docker's multiplexed stdout/stderr need, and what runc writing the file
//! itself cannot give. It runs in its own session, so a daemon restart
//! (systemd's `KillMode=process`) or a signal to the daemon's process
//! group leaves it, and the container, alone; it ends when every process
//! of the container has closed both pipes. If it dies, the container's
//! next write fails (EPIPE), as with conmon or containerd's shim.
//!
//! The container's stdout is the shim's stdin; its stderr is descriptor
//! [`STDERR_FD`].

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd, RawFd};
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::RuntimeError;
use crate::log_line::{self, MAX_RECORD, Stream};

/// The first argument that makes the shoal binary a log shim.
pub const SHIM_ARG: &str = "log-shim";
/// The descriptor the shim reads the container's stderr from.
const STDERR_FD: RawFd = 3;
/// Bytes read from a pipe at once.
const READ_CHUNK: usize = 64 * 1024;

/// A started shim: the write ends to give the container, and its pid.
#[derive(Debug)]
pub(crate) struct Shim {
    /// The container's stdout.
    pub(crate) stdout: OwnedFd,
    /// The container's stderr.
    pub(crate) stderr: OwnedFd,
    /// The shim's process id.
    pub(crate) pid: u32,
}

/// A pipe with both ends close-on-exec: `(read, write)`.
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both are open descriptors we now own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Starts `exe log-shim <log>`; its exit is collected by a thread (this
/// process is a subreaper, and a shim is its child).
pub(crate) fn spawn(exe: &Path, log: &Path) -> Result<Shim, RuntimeError> {
    let io_err = |source| RuntimeError::Spawn {
        program: exe.display().to_string(),
        source,
    };
    let (out_read, out_write) = pipe().map_err(io_err)?;
    let (err_read, err_write) = pipe().map_err(io_err)?;
    let err_raw = err_read.as_raw_fd();
    let mut cmd = Command::new(exe);
    cmd.arg(SHIM_ARG)
        .arg(log)
        .stdin(Stdio::from(out_read))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: only async-signal-safe calls (setsid, dup2, fcntl) between
    // fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::setsid();
            if err_raw == STDERR_FD {
                // dup2 onto itself keeps close-on-exec: clear it instead.
                libc::fcntl(STDERR_FD, libc::F_SETFD, 0);
            } else if libc::dup2(err_raw, STDERR_FD) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(io_err)?;
    drop(err_read);
    let pid = child.id();
    std::thread::spawn(move || child.wait());
    Ok(Shim {
        stdout: out_write,
        stderr: err_write,
        pid,
    })
}

/// The shim's entry point: copies stdin and [`STDERR_FD`] into `log`
/// until both end. Returns the process exit code.
pub fn main(log: &Path) -> i32 {
    // SAFETY: the spawner set up both descriptors for this process; we
    // take them over once.
    let inputs = unsafe { [OwnedFd::from_raw_fd(0), OwnedFd::from_raw_fd(STDERR_FD)] };
    let file = match OpenOptions::new().create(true).append(true).open(log) {
        Ok(file) => file,
        Err(_) => return 1,
    };
    match copy(inputs, file) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

/// One input's bytes of a line not finished yet.
#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    open: bool,
}

/// Copies the container's stdout (`inputs[0]`) and stderr (`inputs[1]`)
/// into `log` as records until both reach their end. A failed write to the
/// log (a full disk) loses those lines but goes on reading, so the
/// container never blocks on its output.
pub fn copy(inputs: [OwnedFd; 2], mut log: File) -> io::Result<()> {
    let streams = [Stream::Stdout, Stream::Stderr];
    let mut pending = [
        Pending {
            open: true,
            ..Pending::default()
        },
        Pending {
            open: true,
            ..Pending::default()
        },
    ];
    let mut chunk = vec![0u8; READ_CHUNK];
    let mut out = Vec::new();
    while pending.iter().any(|p| p.open) {
        let ready = wait_readable(&inputs, &pending)?;
        let time = log_line::stamp_now();
        for i in 0..2 {
            if !ready[i] {
                continue;
            }
            let n = read(&inputs[i], &mut chunk)?;
            let p = &mut pending[i];
            if n == 0 {
                p.open = false;
                if !p.bytes.is_empty() {
                    log_line::write(&mut out, &time, streams[i], false, &p.bytes);
                    p.bytes.clear();
                }
                continue;
            }
            p.bytes.extend_from_slice(&chunk[..n]);
            records(&mut p.bytes, &time, streams[i], &mut out);
        }
        if !out.is_empty() {
            let _ = log.write_all(&out);
            out.clear();
        }
    }
    Ok(())
}

/// Moves every whole line (and every [`MAX_RECORD`] piece of a longer
/// one) of `bytes` into `out` as records.
fn records(bytes: &mut Vec<u8>, time: &str, stream: Stream, out: &mut Vec<u8>) {
    let mut start = 0;
    loop {
        let rest = &bytes[start..];
        match rest.iter().position(|b| *b == b'\n') {
            Some(end) if end <= MAX_RECORD => {
                log_line::write(out, time, stream, false, &rest[..end]);
                start += end + 1;
            }
            _ if rest.len() > MAX_RECORD => {
                log_line::write(out, time, stream, true, &rest[..MAX_RECORD]);
                start += MAX_RECORD;
            }
            _ => break,
        }
    }
    bytes.drain(..start);
}

/// Blocks until an open input has data (or its end); which ones.
fn wait_readable(inputs: &[OwnedFd; 2], pending: &[Pending; 2]) -> io::Result<[bool; 2]> {
    let mut fds: Vec<libc::pollfd> = inputs
        .iter()
        .zip(pending)
        .map(|(fd, p)| libc::pollfd {
            // A closed input is left out: poll skips negative descriptors.
            fd: if p.open { fd.as_raw_fd() } else { -1 },
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    loop {
        // SAFETY: `fds` is a valid array of two pollfd.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if n >= 0 {
            break;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    Ok([fds[0].revents != 0, fds[1].revents != 0])
}

/// One `read(2)`, retried when interrupted.
fn read(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: `buf` is valid for `buf.len()` bytes.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if let Ok(n) = usize::try_from(n) {
            return Ok(n);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;
    use crate::log_line::parse;

    #[test]
    fn both_streams_become_stamped_records_and_a_long_line_is_split() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log_path = dir.path().join("console.log");
        let log = File::create(&log_path).expect("log");
        let (out_read, out_write) = pipe().expect("pipe");
        let (err_read, err_write) = pipe().expect("pipe");
        let copier = std::thread::spawn(move || copy([out_read, err_read], log));
        let mut out = File::from(out_write);
        let mut err = File::from(err_write);
        out.write_all(b"hello\nwor").expect("write");
        err.write_all(b"oops\n").expect("write");
        out.write_all(b"ld\n").expect("write");
        let long = vec![b'x'; MAX_RECORD + 10];
        out.write_all(&long).expect("write");
        out.write_all(b"\nno newline at the end").expect("write");
        drop((out, err));
        copier.join().expect("join").expect("copy");
        let text = std::fs::read_to_string(&log_path).expect("read");
        let records: Vec<_> = text.lines().map(parse).collect();
        assert!(records.iter().all(|r| r.time.is_some()), "{text}");
        let of = |stream| {
            records
                .iter()
                .filter(|r| r.stream == stream)
                .map(|r| {
                    (
                        r.partial,
                        r.text.len().min(20),
                        &r.text[..r.text.len().min(5)],
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(of(Stream::Stderr), [(false, 4, "oops")]);
        assert_eq!(
            of(Stream::Stdout),
            [
                (false, 5, "hello"),
                (false, 5, "world"),
                (true, 20, "xxxxx"),
                (false, 10, "xxxxx"),
                (false, 20, "no ne"),
            ]
        );
    }
}

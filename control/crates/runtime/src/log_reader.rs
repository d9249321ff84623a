//! Reading a container's logs without holding them whole: the last lines
//! read backwards from the end, and what came after a [`LogPosition`]
//! read in bounded chunks (`service logs --follow`). The logs are the
//! rotated part and the current file ([`crate::logs`]); a position
//! notices a rotation by the rotated part changing (its size and
//! modification time) and then finishes the old file's tail from the
//! rotated part before going on at the start of the emptied file.

use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use crate::RuntimeError;
use crate::logs::{LOG_FILE, ROTATED_LOG_FILE};

/// Bytes read per step when looking for line starts from the end.
const BACKWARD_BLOCK: u64 = 64 * 1024;

/// How a rotated part is recognised: its size and modification time
/// (nanoseconds since the epoch); zeros when there is none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotatedId {
    /// Size in bytes.
    pub len: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: u64,
}

/// Where a follower of a container's logs is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogPosition {
    /// Byte offset in the current file, or in the rotated part while
    /// `in_rotated`.
    pub offset: u64,
    /// The rotated part as it was when this position was taken.
    pub rotated: RotatedId,
    /// Whether the follower is finishing the rotated part (the old
    /// current file's tail) before the current file.
    pub in_rotated: bool,
}

fn rotated_id(bundle: &Path) -> Result<RotatedId, RuntimeError> {
    let path = bundle.join(ROTATED_LOG_FILE);
    match std::fs::metadata(&path) {
        Ok(meta) => {
            let mtime = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok());
            Ok(RotatedId {
                len: meta.len(),
                mtime_ns: mtime.map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
            })
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(RotatedId::default()),
        Err(err) => Err(RuntimeError::io("inspect", &path)(err)),
    }
}

fn len_of(path: &Path) -> Result<u64, RuntimeError> {
    match std::fs::metadata(path) {
        Ok(meta) => Ok(meta.len()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(err) => Err(RuntimeError::io("inspect", path)(err)),
    }
}

/// Bytes `[from, to)` of `path` (fewer if it shrank meanwhile).
fn read_range(path: &Path, from: u64, to: u64) -> Result<Vec<u8>, RuntimeError> {
    let mut out = Vec::new();
    if to <= from {
        return Ok(out);
    }
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(err) => return Err(RuntimeError::io("open", path)(err)),
    };
    file.seek(SeekFrom::Start(from))
        .and_then(|_| file.take(to - from).read_to_end(&mut out))
        .map_err(RuntimeError::io("read", path))?;
    Ok(out)
}

/// The last `lines` lines of the logs in `bundle` (all of them when
/// `None`), and the position just after them. Only the lines asked for
/// are read (backwards, a block at a time).
pub fn tail(bundle: &Path, lines: Option<usize>) -> Result<(Vec<u8>, LogPosition), RuntimeError> {
    let rotated = rotated_id(bundle)?;
    let current = bundle.join(LOG_FILE);
    let current_len = len_of(&current)?;
    let parts = [
        (bundle.join(ROTATED_LOG_FILE), rotated.len),
        (current, current_len),
    ];
    let total = rotated.len + current_len;
    let start = match lines {
        None => 0,
        Some(lines) => start_of_last_lines(&parts, total, lines)?,
    };
    let mut out = Vec::new();
    let mut base = 0;
    for (path, len) in &parts {
        let (from, to) = (start.max(base) - base, *len);
        if start < base + len {
            out.extend(read_range(path, from, to)?);
        }
        base += len;
    }
    let position = LogPosition {
        offset: current_len,
        rotated,
        in_rotated: false,
    };
    Ok((out, position))
}

/// Where the last `lines` lines start in the concatenation of `parts`
/// (`total` bytes); a final line without a newline counts.
fn start_of_last_lines(
    parts: &[(PathBuf, u64); 2],
    total: u64,
    lines: usize,
) -> Result<u64, RuntimeError> {
    if lines == 0 {
        return Ok(total);
    }
    let mut end = total;
    let mut seen = 0;
    while end > 0 {
        let begin = end.saturating_sub(BACKWARD_BLOCK);
        let block = read_concat(parts, begin, end)?;
        for (i, byte) in block.iter().enumerate().rev() {
            let at = begin + i as u64;
            // The newline ending the last line does not start a line.
            if *byte == b'\n' && at + 1 != total {
                seen += 1;
                if seen == lines {
                    return Ok(at + 1);
                }
            }
        }
        end = begin;
    }
    Ok(0)
}

/// Bytes `[from, to)` of the concatenation of `parts`.
fn read_concat(parts: &[(PathBuf, u64); 2], from: u64, to: u64) -> Result<Vec<u8>, RuntimeError> {
    let mut out = Vec::new();
    let mut base = 0;
    for (path, len) in parts {
        let (lo, hi) = (from.max(base), to.min(base + len));
        if lo < hi {
            out.extend(read_range(path, lo - base, hi - base)?);
        }
        base += len;
    }
    Ok(out)
}

/// What the logs in `bundle` got after `position`: at most `max` bytes,
/// whole lines only (unless one line alone passes `max`, or the rotated
/// part ends mid-line), and the position after them. A follower that
/// fell two rotations behind skips what the second one dropped.
pub fn read_since(
    bundle: &Path,
    position: LogPosition,
    max: usize,
) -> Result<(Vec<u8>, LogPosition), RuntimeError> {
    let mut position = position;
    // At most: finish the rotated part, then read the current file.
    for _ in 0..3 {
        let rotated = rotated_id(bundle)?;
        if rotated != position.rotated {
            // A rotation since: the old current file's tail (from our
            // offset) is the rotated part's; a second one lost it.
            position = LogPosition {
                offset: if position.in_rotated {
                    0
                } else {
                    position.offset
                },
                rotated,
                in_rotated: !position.in_rotated,
            };
            continue;
        }
        let (path, len) = match position.in_rotated {
            true => (bundle.join(ROTATED_LOG_FILE), rotated.len),
            false => {
                let path = bundle.join(LOG_FILE);
                let len = len_of(&path)?;
                (path, len)
            }
        };
        if position.in_rotated && position.offset >= len {
            position = LogPosition {
                offset: 0,
                rotated,
                in_rotated: false,
            };
            continue;
        }
        if len < position.offset {
            // Emptied without a rotation: start over.
            position.offset = 0;
        }
        let to = len.min(position.offset + max as u64);
        let mut chunk = read_range(&path, position.offset, to)?;
        let part_ends = position.in_rotated && to == len;
        match chunk.iter().rposition(|b| *b == b'\n') {
            Some(last) if !part_ends => chunk.truncate(last + 1),
            None if !part_ends && chunk.len() < max => chunk.clear(),
            _ => {}
        }
        position.offset += chunk.len() as u64;
        return Ok((chunk, position));
    }
    Ok((Vec::new(), position))
}

#[cfg(test)]
mod tests {
    use std::fs::OpenOptions;
    use std::io::Write as _;

    use super::*;
    use crate::logs::rotate;

    /// A log file held open for appending, as runc holds it.
    fn writer(dir: &Path) -> File {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(LOG_FILE))
            .expect("open log")
    }

    #[test]
    fn the_last_lines_come_from_both_parts_read_from_the_end() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut log = writer(dir.path());
        log.write_all(b"one\ntwo\nthree\n").expect("write");
        assert!(rotate(dir.path(), 4).expect("rotate"));
        log.write_all(b"four\nfive").expect("write");
        let text =
            |lines| String::from_utf8(tail(dir.path(), lines).expect("tail").0).expect("utf8");
        assert_eq!(
            text(Some(2)),
            "four\nfive",
            "a last line without newline counts"
        );
        assert_eq!(text(Some(4)), "two\nthree\nfour\nfive");
        assert_eq!(text(Some(0)), "");
        assert_eq!(text(None), "one\ntwo\nthree\nfour\nfive");
        assert_eq!(text(Some(99)), text(None));
        let (_, position) = tail(dir.path(), Some(1)).expect("tail");
        assert_eq!(position.offset, 9, "the position is the current file's end");
    }

    #[test]
    fn a_follower_gets_whole_new_lines_in_bounded_chunks_across_a_rotation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut log = writer(dir.path());
        log.write_all(b"old\n").expect("write");
        let (_, start) = tail(dir.path(), Some(0)).expect("tail");
        let since = |position| read_since(dir.path(), position, 8).expect("read");

        let (chunk, position) = since(start);
        assert_eq!(chunk, b"", "nothing new yet");
        log.write_all(b"a1\na2\na3\npart").expect("write");
        let (chunk, position) = since(position);
        assert_eq!(chunk, b"a1\na2\n", "at most 8 bytes, whole lines");
        let (chunk, position) = since(position);
        assert_eq!(chunk, b"a3\n", "a partial line waits for its newline");

        log.write_all(b"ial\nb1\n").expect("write");
        // Rotated before the follower read "partial": it comes from the
        // rotated part, then the lines written after the rotation.
        assert!(rotate(dir.path(), 4).expect("rotate"));
        log.write_all(b"c1\nc2\n").expect("write");
        let mut seen = Vec::new();
        let mut position = position;
        for _ in 0..6 {
            let (chunk, next) = since(position);
            assert!(chunk.len() <= 8, "chunks stay bounded");
            seen.extend(chunk);
            position = next;
        }
        assert_eq!(
            String::from_utf8(seen).expect("utf8"),
            "partial\nb1\nc1\nc2\n"
        );
    }
}

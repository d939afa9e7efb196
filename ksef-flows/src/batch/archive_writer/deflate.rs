//! Raw deflate of one entry with a reusable compressor.

use std::io;

use flate2::{Compress, FlushCompress, Status};

/// Deflates the concatenation of `pieces` into `out` (appending) as a raw deflate stream.
///
/// `finish = true` ends the stream with a final block (a complete Zip entry). `finish = false`
/// ends it with a sync flush instead: the output stops at a byte boundary after an empty stored
/// block, so further independently compressed chunks may follow it in the same deflate stream.
pub(crate) fn deflate(
    c: &mut Compress,
    pieces: &[&[u8]],
    out: &mut Vec<u8>,
    finish: bool,
) -> io::Result<()> {
    c.reset();
    let total: usize = pieces.iter().map(|p| p.len()).sum();
    // deflate's worst case is a few bytes per 16 KiB stored block; reserve that once
    out.reserve(total + total / 1000 + 64);
    let last = pieces.len().saturating_sub(1);
    for (i, piece) in pieces.iter().enumerate() {
        let flush = match (i == last, finish) {
            (false, _) => FlushCompress::None,
            (true, true) => FlushCompress::Finish,
            (true, false) => FlushCompress::Sync,
        };
        feed(c, piece, out, flush)?;
    }
    if pieces.is_empty() {
        feed(
            c,
            &[],
            out,
            if finish {
                FlushCompress::Finish
            } else {
                FlushCompress::Sync
            },
        )?;
    }
    Ok(())
}

fn feed(c: &mut Compress, input: &[u8], out: &mut Vec<u8>, flush: FlushCompress) -> io::Result<()> {
    let start = c.total_in();
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(4096));
        }
        let done = usize::try_from(c.total_in() - start).unwrap_or(usize::MAX);
        let rest = input.get(done..).unwrap_or_default();
        let status = c.compress_vec(rest, out, flush).map_err(io::Error::other)?;
        let consumed = usize::try_from(c.total_in() - start).unwrap_or(usize::MAX) >= input.len();
        let room_left = out.len() < out.capacity();
        match (status, flush) {
            (Status::StreamEnd, _) => return Ok(()),
            (_, FlushCompress::None) if consumed => return Ok(()),
            (_, FlushCompress::Sync) if consumed && room_left => return Ok(()),
            // more input to take, or the flush needs more room: go round again
            _ => {}
        }
    }
}

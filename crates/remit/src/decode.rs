//! Strict decoding of the declared text encoding into UTF-8, as a streaming reader.
//!
//! The whole file is refused at the first byte that is not valid in the declared encoding;
//! nothing is replaced with U+FFFD. A UTF-8 (or UTF-16) byte-order mark at the very start is
//! dropped. For windows-1252 (which encoding_rs also uses for the `iso-8859-1` label) the five
//! bytes the code page leaves undefined — 0x81, 0x8D, 0x8F, 0x90, 0x9D — count as invalid:
//! encoding_rs would turn them into C1 control characters, but they only ever show up when a
//! file in another encoding (often UTF-8) was labelled 1252.

use std::io::{self, Read};

use encoding_rs::{DecoderResult, Encoding, WINDOWS_1252};

/// The error payload carried inside an `io::Error` when decoding fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EncodingFault {
    pub offset: u64,
}

impl std::fmt::Display for EncodingFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "invalid byte for the declared encoding at offset {}",
            self.offset
        )
    }
}

impl std::error::Error for EncodingFault {}

/// Finds the offset of an [`EncodingFault`] inside an io::Error, if it is one.
pub(crate) fn fault_of(e: &io::Error) -> Option<u64> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<EncodingFault>())
        .map(|f| f.offset)
}

fn fault(offset: u64) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, EncodingFault { offset })
}

const CHUNK: usize = 16 * 1024;

/// Reads bytes in `encoding` from `inner` and hands out UTF-8.
pub(crate) struct DecodingReader<R> {
    inner: R,
    decoder: encoding_rs::Decoder,
    strict_1252: bool,
    input: Vec<u8>,
    in_start: usize,
    in_end: usize,
    /// File offset of `input[in_start]`.
    offset: u64,
    output: Vec<u8>,
    out_start: usize,
    out_end: usize,
    eof: bool,
    /// A fault found by the pre-scan, reported once the bytes before it are decoded.
    pending: Option<u64>,
    failed: Option<u64>,
    done: bool,
}

impl<R: Read> DecodingReader<R> {
    pub(crate) fn new(inner: R, encoding: &'static Encoding) -> Self {
        DecodingReader {
            inner,
            decoder: encoding.new_decoder_with_bom_removal(),
            strict_1252: encoding == WINDOWS_1252,
            input: vec![0; CHUNK],
            in_start: 0,
            in_end: 0,
            offset: 0,
            output: vec![0; CHUNK * 3 + 16],
            out_start: 0,
            out_end: 0,
            eof: false,
            pending: None,
            failed: None,
            done: false,
        }
    }

    fn fill(&mut self) -> io::Result<()> {
        let n = loop {
            match self.inner.read(&mut self.input) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        };
        self.in_start = 0;
        self.in_end = n;
        if n == 0 {
            self.eof = true;
        } else if self.strict_1252
            && let Some(p) = self.input[..n]
                .iter()
                .position(|b| matches!(b, 0x81 | 0x8D | 0x8F | 0x90 | 0x9D))
        {
            self.pending = Some(self.offset + p as u64);
            self.in_end = p;
        }
        Ok(())
    }
}

impl<R: Read> Read for DecodingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.out_start < self.out_end {
                let n = buf.len().min(self.out_end - self.out_start);
                buf[..n].copy_from_slice(&self.output[self.out_start..self.out_start + n]);
                self.out_start += n;
                return Ok(n);
            }
            if let Some(off) = self.failed {
                return Err(fault(off));
            }
            if self.done {
                return Ok(0);
            }
            if self.in_start == self.in_end {
                if let Some(off) = self.pending {
                    self.failed = Some(off);
                    continue;
                }
                if !self.eof {
                    self.fill()?;
                    if !self.eof {
                        continue;
                    }
                }
            }
            let last = self.eof;
            let (result, read, written) = self.decoder.decode_to_utf8_without_replacement(
                &self.input[self.in_start..self.in_end],
                &mut self.output,
                last,
            );
            self.in_start += read;
            self.offset += read as u64;
            self.out_start = 0;
            self.out_end = written;
            match result {
                DecoderResult::InputEmpty => {
                    if last {
                        self.done = true;
                    }
                }
                DecoderResult::OutputFull => {}
                DecoderResult::Malformed(bad, after) => {
                    let back = u64::from(bad) + u64::from(after);
                    self.failed = Some(self.offset.saturating_sub(back));
                }
            }
        }
    }
}

/// Decodes a whole byte slice (for formats read in one piece).
pub(crate) fn decode_all(bytes: &[u8], encoding: &'static Encoding) -> Result<String, u64> {
    let mut s = String::new();
    match DecodingReader::new(bytes, encoding).read_to_string(&mut s) {
        Ok(_) => Ok(s),
        Err(e) => Err(fault_of(&e).unwrap_or(0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use encoding_rs::{UTF_8, UTF_16LE, WINDOWS_1256};

    /// A reader that hands out one byte at a time, to cross every chunk boundary.
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match (self.0.split_first(), buf.first_mut()) {
                (Some((b, rest)), Some(slot)) => {
                    *slot = *b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    fn trickle(bytes: &[u8], enc: &'static Encoding) -> Result<String, u64> {
        let mut s = String::new();
        match DecodingReader::new(Trickle(bytes), enc).read_to_string(&mut s) {
            Ok(_) => Ok(s),
            Err(e) => Err(fault_of(&e).unwrap_or(u64::MAX)),
        }
    }

    #[test]
    fn utf8_bom_and_faults() {
        assert_eq!(decode_all(b"\xEF\xBB\xBFabc", UTF_8), Ok("abc".to_string()));
        assert_eq!(decode_all(b"ab\xFFc", UTF_8), Err(2));
        assert_eq!(trickle("é€x".as_bytes(), UTF_8), Ok("é€x".to_string()));
        assert_eq!(trickle(b"abc\xE2\x82", UTF_8), Err(3));
        assert_eq!(trickle(b"abcd\xC3(", UTF_8), Err(4));
    }

    #[test]
    fn windows_1252_undefined_bytes() {
        assert_eq!(
            decode_all(b"Zo\xEB M\xFCller \x96 caf\xE9", WINDOWS_1252),
            Ok("Zoë Müller – café".to_string())
        );
        assert_eq!(decode_all(b"abc\x8Ddef", WINDOWS_1252), Err(3));
        assert_eq!(trickle(b"abc\x90", WINDOWS_1252), Err(3));
    }

    #[test]
    fn other_encodings() {
        assert_eq!(
            decode_all(b"\xE3\xD5\xD1", WINDOWS_1256),
            Ok("مصر".to_string())
        );
        assert_eq!(
            trickle(b"\xFF\xFEa\x00b\x00", UTF_16LE),
            Ok("ab".to_string())
        );
        // an unpaired high surrogate
        assert!(decode_all(b"a\x00\x00\xD8b\x00", UTF_16LE).is_err());
    }
}

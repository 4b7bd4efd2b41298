//! Reading a report on a second thread: gunzipping, decoding the encoding
//! the report declares into UTF-8, checking that what claims to be UTF-8 is,
//! and classifying every byte for the fast path, into a ring of chunks the
//! parser consumes as a `BufRead`. Memory stays bounded whatever the
//! report's size.
//!
//! Encodings: a byte-order mark wins (UTF-8, UTF-16LE, UTF-16BE); without
//! one, UTF-16 is recognised by `<?` in two-byte units, and otherwise the
//! XML declaration's `encoding` is honoured: UTF-8 (and US-ASCII),
//! ISO-8859-1 (every byte is the code point of its value) and windows-1252.
//! Any other declared encoding is refused, naming it: reading it as UTF-8
//! would misread the report.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use super::classes::{Classes, classify_all};

/// Bytes per chunk.
pub const CHUNK: usize = 256 * 1024;

/// A chunk read ahead, with its byte classes.
pub(crate) struct Chunk {
    /// The bytes read; a reused chunk keeps its buffer's length (no
    /// zeroing), `len` says how much of it is data.
    buf: Vec<u8>,
    len: usize,
    pub classes: Vec<Classes>,
}

impl Chunk {
    fn new() -> Self {
        Self { buf: Vec::new(), len: 0, classes: Vec::new() }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// A report being read: a `BufRead` fed by a reader thread, whose chunks
/// carry their byte classes.
pub struct Pipe {
    rx: Receiver<std::io::Result<Chunk>>,
    back: SyncSender<Chunk>,
    chunk: Chunk,
    pos: usize,
    done: bool,
}

/// Opens a report file.
pub fn open(path: &Path) -> std::io::Result<Pipe> {
    let f = std::fs::File::open(path)?;
    Ok(Pipe::spawn(Box::new(f), CHUNK))
}

/// Reads a report from any reader (tests, generated reports).
pub fn pipe(reader: impl Read + Send + 'static) -> Pipe {
    Pipe::spawn(Box::new(reader), CHUNK)
}

fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message)
}

impl Pipe {
    /// A reader thread handing out chunks of `size` bytes (tests vary it to
    /// move chunk boundaries through every construct).
    pub fn spawn(source: Box<dyn Read + Send>, size: usize) -> Self {
        let (tx, rx) = sync_channel::<std::io::Result<Chunk>>(4);
        let (back, spare) = sync_channel::<Chunk>(6);
        std::thread::spawn(move || {
            let (mut source, check_utf8) = match decoded(source) {
                Ok(s) => s,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            // The last bytes of a chunk that start a UTF-8 sequence the next one ends.
            let mut carry: Vec<u8> = Vec::new();
            loop {
                let mut chunk = spare.try_recv().unwrap_or_else(|_| Chunk::new());
                if chunk.buf.len() < size {
                    chunk.buf.resize(size, 0);
                }
                chunk.buf[..carry.len()].copy_from_slice(&carry);
                let mut filled = carry.len();
                carry.clear();
                // Fill the chunk (gzip streams and decoders give short reads).
                let mut eof = false;
                while filled < chunk.buf.len() {
                    match source.read(&mut chunk.buf[filled..]) {
                        Ok(0) => {
                            eof = true;
                            break;
                        }
                        Ok(n) => filled += n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    }
                }
                chunk.len = filled;
                let mut failure = None;
                if check_utf8 && let Err(e) = std::str::from_utf8(chunk.bytes()) {
                    let good = e.valid_up_to();
                    failure = match e.error_len() {
                        None if !eof => {
                            carry.extend_from_slice(&chunk.bytes()[good..]);
                            None
                        }
                        None => Some(invalid("the report ends inside a UTF-8 sequence: the file is truncated".into())),
                        Some(_) => Some(invalid(format!(
                            "byte 0x{:02X} is not UTF-8; the report declares no other encoding (write it as UTF-8, or declare its encoding in <?xml … encoding=\"…\"?>)",
                            chunk.bytes()[good]
                        ))),
                    };
                    chunk.len = good;
                }
                chunk.classes.clear();
                classify_all(&chunk.buf[..chunk.len], &mut chunk.classes);
                if chunk.len > 0 && tx.send(Ok(chunk)).is_err() {
                    return;
                }
                if let Some(e) = failure {
                    let _ = tx.send(Err(e));
                    return;
                }
                if eof {
                    // Dropping the sender ends the pipe.
                    return;
                }
            }
        });
        Self { rx, back, chunk: Chunk::new(), pos: 0, done: false }
    }

    /// The current chunk, its classes (one [`Classes`] per 64 bytes) and
    /// where the buffer ([`BufRead::fill_buf`]) starts in it.
    pub(crate) fn classified(&self) -> (&[u8], &[Classes], usize) {
        (self.chunk.bytes(), &self.chunk.classes, self.pos)
    }
}

impl Read for Pipe {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = {
            let buf = self.fill_buf()?;
            let n = buf.len().min(out.len());
            out[..n].copy_from_slice(&buf[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Pipe {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.pos >= self.chunk.len && !self.done {
            match self.rx.recv() {
                Ok(Ok(c)) => {
                    self.done = c.len == 0;
                    let used = std::mem::replace(&mut self.chunk, c);
                    let _ = self.back.try_send(used);
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => self.done = true,
            }
        }
        Ok(&self.chunk.bytes()[self.pos.min(self.chunk.len)..])
    }
    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.chunk.len);
    }
}

/// The report as UTF-8: gunzipped when it starts with gzip's magic bytes,
/// decoded from its declared encoding. The flag says whether the bytes
/// still need checking as UTF-8 (decoded text is valid by construction).
fn decoded(source: Box<dyn Read + Send>) -> std::io::Result<(Box<dyn Read + Send>, bool)> {
    let mut f = BufReader::with_capacity(CHUNK, source);
    let gz = f.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    let mut raw: Box<dyn Read + Send> = if gz { Box::new(flate2::bufread::MultiGzDecoder::new(f)) } else { Box::new(f) };
    // The first bytes decide the encoding (up to the end of a declaration).
    let mut head = Vec::with_capacity(1024);
    let mut part = [0u8; 1024];
    while head.len() < 1024 {
        match raw.read(&mut part[..1024 - head.len()]) {
            Ok(0) => break,
            Ok(n) => {
                head.extend_from_slice(&part[..n]);
                if head.contains(&b'>') {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let (encoding, skip) = sniff(&head)?;
    let rest: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(head).chain(raw));
    let mut rest = rest;
    if skip > 0 {
        let mut bom = vec![0u8; skip];
        rest.read_exact(&mut bom)?;
    }
    Ok(match encoding {
        Encoding::Utf8 => (rest, true),
        Encoding::Latin1 => (Box::new(Transcode::new(rest, Decoding::Latin1)), false),
        Encoding::Other(e) => (Box::new(Transcode::new(rest, Decoding::Rs(e.new_decoder_without_bom_handling()))), false),
    })
}

enum Encoding {
    Utf8,
    Latin1,
    Other(&'static encoding_rs::Encoding),
}

/// The encoding of a report from its first bytes, and the length of its
/// byte-order mark.
fn sniff(head: &[u8]) -> std::io::Result<(Encoding, usize)> {
    match head {
        [0xEF, 0xBB, 0xBF, ..] => return Ok((Encoding::Utf8, 3)),
        [0xFF, 0xFE, ..] => return Ok((Encoding::Other(encoding_rs::UTF_16LE), 2)),
        [0xFE, 0xFF, ..] => return Ok((Encoding::Other(encoding_rs::UTF_16BE), 2)),
        [0x3C, 0x00, 0x3F, 0x00, ..] => return Ok((Encoding::Other(encoding_rs::UTF_16LE), 0)),
        [0x00, 0x3C, 0x00, 0x3F, ..] => return Ok((Encoding::Other(encoding_rs::UTF_16BE), 0)),
        _ => {}
    }
    let Some(label) = declared_encoding(head) else { return Ok((Encoding::Utf8, 0)) };
    let plain = label.to_ascii_lowercase().replace('_', "-");
    Ok((
        match plain.as_str() {
            "utf-8" | "utf8" | "us-ascii" | "ascii" => Encoding::Utf8,
            "iso-8859-1" | "latin1" | "latin-1" | "l1" | "iso8859-1" | "cp819" | "ibm819" => Encoding::Latin1,
            "windows-1252" | "cp1252" => Encoding::Other(encoding_rs::WINDOWS_1252),
            "utf-16" | "utf-16le" | "utf-16be" => {
                return Err(invalid(format!(
                    "the XML declaration says encoding=\"{label}\" but the file has no UTF-16 byte-order mark and is not UTF-16; fix the declaration or the file"
                )));
            }
            _ => {
                return Err(invalid(format!(
                    "the XML declaration says encoding=\"{label}\", which smoke-gate does not read; have the test runner write UTF-8 (UTF-16, ISO-8859-1 and windows-1252 are read too)"
                )));
            }
        },
        0,
    ))
}

/// The `encoding` pseudo-attribute of `<?xml …?>` at the very start.
fn declared_encoding(head: &[u8]) -> Option<String> {
    let decl = head.strip_prefix(b"<?xml")?;
    let end = decl.windows(2).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&decl[..end]).ok()?;
    let at = decl.find("encoding")?;
    let rest = decl[at + "encoding".len()..].trim_start().strip_prefix('=')?.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &rest[1..];
    Some(value[..value.find(quote)?].to_owned())
}

enum Decoding {
    /// ISO-8859-1: each byte is the code point of its value.
    Latin1,
    /// An encoding_rs decoder (UTF-16, windows-1252); malformed input is an error.
    Rs(encoding_rs::Decoder),
}

/// A reader that decodes its input into UTF-8, through a buffer of its
/// own so that any read size works.
struct Transcode {
    inner: Box<dyn Read + Send>,
    decoding: Decoding,
    input: Vec<u8>,
    start: usize,
    end: usize,
    output: Vec<u8>,
    taken: usize,
    eof: bool,
    finished: bool,
}

impl Transcode {
    fn new(inner: Box<dyn Read + Send>, decoding: Decoding) -> Self {
        Self { inner, decoding, input: vec![0; 64 * 1024], start: 0, end: 0, output: Vec::new(), taken: 0, eof: false, finished: false }
    }

    /// Decodes more input into `output`; `false` at the end.
    fn refill(&mut self) -> std::io::Result<bool> {
        self.output.clear();
        self.taken = 0;
        while self.output.is_empty() {
            if self.finished {
                return Ok(false);
            }
            if self.start == self.end && !self.eof {
                self.start = 0;
                self.end = self.inner.read(&mut self.input)?;
                self.eof = self.end == 0;
            }
            let src = &self.input[self.start..self.end];
            match &mut self.decoding {
                Decoding::Latin1 => {
                    for &b in src {
                        if b < 0x80 {
                            self.output.push(b);
                        } else {
                            self.output.extend_from_slice(&[0xC0 | (b >> 6), 0x80 | (b & 0x3F)]);
                        }
                    }
                    self.start = self.end;
                    self.finished = self.eof;
                }
                Decoding::Rs(d) => {
                    let mut out = vec![0u8; src.len() * 3 + 16];
                    let (result, read, written) = d.decode_to_utf8_without_replacement(src, &mut out, self.eof);
                    if let encoding_rs::DecoderResult::Malformed(_, _) = result {
                        return Err(invalid(format!("the report is not valid {}: malformed input", d.encoding().name())));
                    }
                    self.start += read;
                    self.output.extend_from_slice(&out[..written]);
                    self.finished = self.eof && self.start == self.end;
                }
            }
        }
        Ok(true)
    }
}

impl Read for Transcode {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.taken == self.output.len() && !self.refill()? {
            return Ok(0);
        }
        let n = out.len().min(self.output.len() - self.taken);
        out[..n].copy_from_slice(&self.output[self.taken..self.taken + n]);
        self.taken += n;
        Ok(n)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn text(bytes: Vec<u8>) -> Result<String, String> {
        let mut p = Pipe::spawn(Box::new(std::io::Cursor::new(bytes)), 64);
        let mut out = Vec::new();
        p.read_to_end(&mut out).map_err(|e| e.to_string())?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn encodings_are_honoured_or_refused_by_name() {
        let doc = "<?xml version=\"1.0\" encoding=\"ENC\"?>\n<testsuite name=\"Zürich\"/>\n";
        let latin1: Vec<u8> = doc.replace("ENC", "ISO-8859-1").chars().map(|c| c as u32 as u8).collect();
        assert_eq!(text(latin1).unwrap(), doc.replace("ENC", "ISO-8859-1"));
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend(doc.replace("ENC", "UTF-16").encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(text(utf16).unwrap(), doc.replace("ENC", "UTF-16"));
        let mut be = vec![0xFE, 0xFF];
        be.extend(doc.replace("ENC", "UTF-16").encode_utf16().flat_map(u16::to_be_bytes));
        assert_eq!(text(be).unwrap(), doc.replace("ENC", "UTF-16"));
        let mut bom8 = vec![0xEF, 0xBB, 0xBF];
        bom8.extend(doc.replace("ENC", "UTF-8").bytes());
        assert_eq!(text(bom8).unwrap(), doc.replace("ENC", "UTF-8"));
        let e = text(doc.replace("ENC", "Shift_JIS").into_bytes()).unwrap_err();
        assert!(e.contains("encoding=\"Shift_JIS\"") && e.contains("does not read"), "{e}");
        let e = text(doc.replace("ENC", "UTF-16").into_bytes()).unwrap_err();
        assert!(e.contains("no UTF-16 byte-order mark"), "{e}");
        // Latin-1 bytes without a declaration are not UTF-8.
        let e = text(b"<testsuite name=\"Z\xfcrich\"/>".to_vec()).unwrap_err();
        assert!(e.contains("byte 0xFC is not UTF-8"), "{e}");
    }

    #[test]
    fn utf8_sequences_across_chunks_are_whole_and_cut_ones_refused() {
        // 64-byte chunks: every multi-byte character straddles a boundary somewhere.
        let doc = format!("<t n=\"{}\"/>", "é€😀".repeat(100));
        assert_eq!(text(doc.clone().into_bytes()).unwrap(), doc);
        let mut cut = doc.clone().into_bytes();
        cut.extend_from_slice(&[0xF0, 0x9F]);
        assert!(text(cut).unwrap_err().contains("truncated"));
        let mut bad = doc.into_bytes();
        bad.extend_from_slice(&[0xF0, 0x41]);
        assert!(text(bad).unwrap_err().contains("byte 0xF0 is not UTF-8"));
    }
}

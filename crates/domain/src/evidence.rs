//! Evidence files for disputes: what a file is, decided from its own bytes; the limits per file
//! and per dispute; and the name it is served under.
//!
//! The type a client declares and the file's name are never trusted: [`sniff`] looks at the
//! first bytes and accepts five formats, each by its signature and a little of the structure
//! right after it (cheap checks that refuse a file that merely starts with the right magic):
//!
//! | kind | what is checked |
//! |---|---|
//! | JPEG | `FF D8` (start of image) then `FF` and a marker byte (`C0`–`FE`): the first segment |
//! | PNG | the 8-byte signature, then the first chunk is `IHDR` of length 13 with a non-zero width and height |
//! | WebP | `RIFF`, a little-endian size that fits the file, `WEBP`, then a `VP8 `, `VP8L` or `VP8X` chunk |
//! | MP4 | the first box is `ftyp` (size 16 or more, a multiple of 4, within the file) with an MP4/ISO major brand |
//! | PDF | `%PDF-` at offset 0, then a version `d.d` |
//!
//! Not checked: that a JPEG ends with `FF D9` or a PDF with `%%EOF` (cameras and editors append
//! trailing data; a file is refused on what it starts with, not on what it lacks at its end),
//! nor that the rest of the file decodes. Anything else (an executable, HTML, SVG, a ZIP, a
//! QuickTime `.mov`, HEIC) is `evidence_type_not_allowed`. Files are served only as attachments
//! with their sniffed type, so a polyglot that passes these checks is never rendered as a page.

use crate::ErrorCode;

/// The formats a dispute takes as evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EvidenceKind {
    Jpeg,
    Png,
    Webp,
    Mp4,
    Pdf,
}

impl EvidenceKind {
    pub const ALL: [EvidenceKind; 5] = [
        EvidenceKind::Jpeg,
        EvidenceKind::Png,
        EvidenceKind::Webp,
        EvidenceKind::Mp4,
        EvidenceKind::Pdf,
    ];

    /// The stored and API name: `jpeg`, `png`, `webp`, `mp4`, `pdf`.
    pub const fn code(self) -> &'static str {
        match self {
            EvidenceKind::Jpeg => "jpeg",
            EvidenceKind::Png => "png",
            EvidenceKind::Webp => "webp",
            EvidenceKind::Mp4 => "mp4",
            EvidenceKind::Pdf => "pdf",
        }
    }

    pub fn from_code(code: &str) -> Option<EvidenceKind> {
        EvidenceKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// The media type it is served as.
    pub const fn content_type(self) -> &'static str {
        match self {
            EvidenceKind::Jpeg => "image/jpeg",
            EvidenceKind::Png => "image/png",
            EvidenceKind::Webp => "image/webp",
            EvidenceKind::Mp4 => "video/mp4",
            EvidenceKind::Pdf => "application/pdf",
        }
    }

    /// File name extensions of this kind (lower case); the first is the one added to a name
    /// that has none of them.
    pub const fn extensions(self) -> &'static [&'static str] {
        match self {
            EvidenceKind::Jpeg => &["jpg", "jpeg"],
            EvidenceKind::Png => &["png"],
            EvidenceKind::Webp => &["webp"],
            EvidenceKind::Mp4 => &["mp4", "m4v"],
            EvidenceKind::Pdf => &["pdf"],
        }
    }

    pub const fn is_video(self) -> bool {
        matches!(self, EvidenceKind::Mp4)
    }
}

/// MP4 and ISO base media major brands taken as MP4 video. QuickTime (`qt  `), HEIF images
/// (`heic`, `mif1`) and audio-only `M4A ` are not among them.
const MP4_BRANDS: &[&[u8; 4]] = &[
    b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"iso7", b"iso8", b"iso9", b"mp41",
    b"mp42", b"mp71", b"avc1", b"M4V ", b"M4VH", b"M4VP", b"dash", b"msnv", b"f4v ",
];

/// Why a file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    #[error("evidence must be a JPEG, PNG, WebP, MP4 or PDF file (decided by its content)")]
    TypeNotAllowed,
    #[error("this {kind} file is {size} bytes; a {kind} file may be at most {max} bytes")]
    TooLarge {
        kind: &'static str,
        size: u64,
        max: u64,
    },
    #[error(
        "the dispute's evidence is at its limit: at most {max_files} files and {max_bytes} bytes \
         in all ({files} files, {bytes} bytes now; this file is {size} bytes)"
    )]
    LimitReached {
        files: u64,
        bytes: u64,
        size: u64,
        max_files: u64,
        max_bytes: u64,
    },
}

impl EvidenceError {
    pub fn code(&self) -> ErrorCode {
        match self {
            EvidenceError::TypeNotAllowed => ErrorCode::EvidenceTypeNotAllowed,
            EvidenceError::TooLarge { .. } => ErrorCode::EvidenceTooLarge,
            EvidenceError::LimitReached { .. } => ErrorCode::EvidenceLimitReached,
        }
    }
}

/// The kind of a file, from its bytes alone.
pub fn sniff(bytes: &[u8]) -> Result<EvidenceKind, EvidenceError> {
    type Check = fn(&[u8]) -> bool;
    let checks: [(EvidenceKind, Check); 5] = [
        (EvidenceKind::Jpeg, is_jpeg),
        (EvidenceKind::Png, is_png),
        (EvidenceKind::Webp, is_webp),
        (EvidenceKind::Mp4, is_mp4),
        (EvidenceKind::Pdf, is_pdf),
    ];
    checks
        .into_iter()
        .find(|(_, check)| check(bytes))
        .map(|(kind, _)| kind)
        .ok_or(EvidenceError::TypeNotAllowed)
}

fn u32_be(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u32_le(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn is_jpeg(b: &[u8]) -> bool {
    matches!(b, [0xFF, 0xD8, 0xFF, marker, ..] if *marker >= 0xC0 && *marker != 0xFF)
}

fn is_png(b: &[u8]) -> bool {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    b.starts_with(SIGNATURE)
        && u32_be(b, 8) == Some(13)
        && b.get(12..16) == Some(b"IHDR")
        && u32_be(b, 16).is_some_and(|w| w > 0)
        && u32_be(b, 20).is_some_and(|h| h > 0)
}

fn is_webp(b: &[u8]) -> bool {
    let fits = u32_le(b, 4)
        .and_then(|size| usize::try_from(size).ok())
        .is_some_and(|size| size >= 12 && size.saturating_add(8) <= b.len());
    b.starts_with(b"RIFF")
        && fits
        && b.get(8..12) == Some(b"WEBP")
        && matches!(b.get(12..16), Some(b"VP8 " | b"VP8L" | b"VP8X"))
}

fn is_mp4(b: &[u8]) -> bool {
    let Some(size) = u32_be(b, 0).and_then(|s| usize::try_from(s).ok()) else {
        return false;
    };
    size >= 16
        && size % 4 == 0
        && size <= b.len()
        && b.get(4..8) == Some(b"ftyp")
        && b.get(8..12)
            .is_some_and(|brand| MP4_BRANDS.iter().any(|m| m[..] == *brand))
}

fn is_pdf(b: &[u8]) -> bool {
    matches!(b, [b'%', b'P', b'D', b'F', b'-', major, b'.', minor, ..]
        if major.is_ascii_digit() && minor.is_ascii_digit())
}

/// The limits on a dispute's evidence (bytes and counts); see `Policy` in the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvidenceLimits {
    /// The largest image or PDF.
    pub max_file_bytes: u64,
    /// The largest video.
    pub max_video_bytes: u64,
    /// All of one dispute's files together.
    pub max_dispute_bytes: u64,
    /// How many files one dispute may have.
    pub max_dispute_files: u64,
}

const MIB: u64 = 1024 * 1024;

impl Default for EvidenceLimits {
    /// 10 MiB a file, 50 MiB a video, 100 MiB and 20 files a dispute.
    fn default() -> Self {
        EvidenceLimits {
            max_file_bytes: 10 * MIB,
            max_video_bytes: 50 * MIB,
            max_dispute_bytes: 100 * MIB,
            max_dispute_files: 20,
        }
    }
}

/// What a dispute's evidence takes now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EvidenceUsage {
    pub files: u64,
    pub bytes: u64,
}

impl EvidenceLimits {
    /// The largest file of any kind: an upload's body is cut off past this (plus its framing).
    pub fn largest_file(&self) -> u64 {
        self.max_file_bytes.max(self.max_video_bytes)
    }

    /// A file of `kind` and `size` bytes on its own.
    pub fn check_file(&self, kind: EvidenceKind, size: u64) -> Result<(), EvidenceError> {
        let max = if kind.is_video() {
            self.max_video_bytes
        } else {
            self.max_file_bytes
        };
        if size > max {
            return Err(EvidenceError::TooLarge {
                kind: kind.code(),
                size,
                max,
            });
        }
        Ok(())
    }

    /// One more file of `size` bytes in a dispute whose evidence takes `usage`.
    pub fn check_dispute(&self, usage: EvidenceUsage, size: u64) -> Result<(), EvidenceError> {
        let fits = usage.files < self.max_dispute_files
            && usage
                .bytes
                .checked_add(size)
                .is_some_and(|total| total <= self.max_dispute_bytes);
        if fits {
            return Ok(());
        }
        Err(EvidenceError::LimitReached {
            files: usage.files,
            bytes: usage.bytes,
            size,
            max_files: self.max_dispute_files,
            max_bytes: self.max_dispute_bytes,
        })
    }
}

/// The longest name a file is kept and served under, in characters.
pub const MAX_FILE_NAME_CHARS: usize = 100;

/// The name a file of `kind` is kept and served under, from the name the client gave: only the
/// part after the last `/` or `\`; without control or invisible formatting characters (such as
/// right-to-left overrides that make `gpj.exe` read as `exe.jpg`); with `"`, `<`, `>`, `:`,
/// `|`, `?`, `*` and `;` replaced by `_`; without leading dots and spaces; ending with an
/// extension of its sniffed kind (added when missing, so `invoice.exe` holding a PDF is
/// `invoice.exe.pdf`); at most [`MAX_FILE_NAME_CHARS`] characters; `evidence` when nothing is
/// left.
pub fn file_name(given: &str, kind: EvidenceKind) -> String {
    let base = given.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && !is_invisible_format(*c))
        .map(|c| match c {
            '"' | '<' | '>' | ':' | '|' | '?' | '*' | ';' => '_',
            c => c,
        })
        .collect();
    let cleaned = cleaned.trim_start_matches(['.', ' ']).trim_end();
    let mut stem = if cleaned.is_empty() {
        "evidence".to_string()
    } else {
        cleaned.to_string()
    };
    let has_extension = stem.rsplit_once('.').is_some_and(|(_, ext)| {
        kind.extensions()
            .iter()
            .any(|e| ext.eq_ignore_ascii_case(e))
    });
    let extension = if has_extension {
        String::new()
    } else {
        format!(".{}", kind.extensions()[0])
    };
    if !has_extension {
        stem = stem.trim_end_matches(['.', ' ']).to_string();
    }
    let room = MAX_FILE_NAME_CHARS - extension.chars().count();
    if stem.chars().count() > room {
        if has_extension {
            // keep the extension: cut the middle of the name
            let (head, ext) = stem.rsplit_once('.').unwrap_or((&stem, ""));
            let keep = room.saturating_sub(ext.chars().count() + 1);
            stem = format!("{}.{ext}", head.chars().take(keep).collect::<String>());
        } else {
            stem = stem.chars().take(room).collect();
        }
    }
    stem + &extension
}

/// Zero-width and bidirectional formatting characters, which change how a name reads.
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

/// How the uploader of a file takes part in its dispute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EvidenceRole {
    Buyer,
    Seller,
    Mediator,
    Platform,
}

impl EvidenceRole {
    pub const fn code(self) -> &'static str {
        match self {
            EvidenceRole::Buyer => "buyer",
            EvidenceRole::Seller => "seller",
            EvidenceRole::Mediator => "mediator",
            EvidenceRole::Platform => "platform",
        }
    }

    pub fn from_code(code: &str) -> Option<EvidenceRole> {
        [
            EvidenceRole::Buyer,
            EvidenceRole::Seller,
            EvidenceRole::Mediator,
            EvidenceRole::Platform,
        ]
        .into_iter()
        .find(|r| r.code() == code)
    }
}

#[doc(hidden)]
#[path = "evidence_samples.rs"]
pub mod samples;

#[cfg(test)]
#[path = "evidence_tests.rs"]
mod tests;

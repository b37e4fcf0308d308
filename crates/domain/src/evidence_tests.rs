//! Tiny files of each format, built here byte by byte, and near misses.

use super::samples::*;
use super::*;

#[test]
fn each_format_is_recognised_by_its_content() {
    for (bytes, kind) in [
        (jpeg(), EvidenceKind::Jpeg),
        (png(), EvidenceKind::Png),
        (webp(), EvidenceKind::Webp),
        (riff(b"WEBP", b"VP8 ", 0), EvidenceKind::Webp),
        (riff(b"WEBP", b"VP8X", 0), EvidenceKind::Webp),
        (mp4(), EvidenceKind::Mp4),
        (ftyp(b"mp42", &[]), EvidenceKind::Mp4),
        (pdf(), EvidenceKind::Pdf),
        (b"%PDF-2.0\n".to_vec(), EvidenceKind::Pdf),
        // a JPEG need not end with FF D9 (not checked)
        (jpeg()[..8].to_vec(), EvidenceKind::Jpeg),
        // nor with a WebP whose RIFF size leaves padding after it
        ([webp(), vec![0, 0]].concat(), EvidenceKind::Webp),
    ] {
        assert_eq!(sniff(&bytes), Ok(kind), "{bytes:02x?}");
    }
}

#[test]
fn anything_else_is_refused_by_name() {
    let mut png_bad_crc_is_fine = png();
    png_bad_crc_is_fine[29] ^= 0xFF;
    assert_eq!(sniff(&png_bad_crc_is_fine), Ok(EvidenceKind::Png));
    let refused: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("windows executable", exe()),
        ("ELF", b"\x7fELF\x02\x01\x01\0".to_vec()),
        ("shell script", b"#!/bin/sh\nrm -rf /\n".to_vec()),
        ("html", b"<!DOCTYPE html><script>alert(1)</script>".to_vec()),
        (
            "svg",
            b"<?xml version=\"1.0\"?><svg onload=\"x\"/>".to_vec(),
        ),
        ("gif", b"GIF89a\x01\0\x01\0\0\0\0;".to_vec()),
        ("zip", b"PK\x03\x04\x14\0\0\0".to_vec()),
        ("jpeg start of image alone", vec![0xFF, 0xD8]),
        ("jpeg without a marker", vec![0xFF, 0xD8, 0xFF, 0x00, 0x10]),
        ("png signature alone", png()[..8].to_vec()),
        ("png without IHDR first", png_with(13, b"tEXt", 1, 1)),
        ("png IHDR of the wrong length", png_with(12, b"IHDR", 1, 1)),
        ("png of zero width", png_with(13, b"IHDR", 0, 1)),
        ("wav", riff(b"WAVE", b"fmt ", 0)),
        ("webp of an unknown chunk", riff(b"WEBP", b"ABCD", 0)),
        ("webp cut short", riff(b"WEBP", b"VP8L", 100)),
        ("quicktime", ftyp(b"qt  ", &[b"qt  "])),
        ("heic", ftyp(b"heic", &[b"mif1", b"heic"])),
        ("audio only m4a", ftyp(b"M4A ", &[b"isom", b"mp42"])),
        (
            "ftyp box beyond the file",
            ftyp(b"isom", &[b"isom"])[..19].to_vec(),
        ),
        ("ftyp box too small", {
            let mut b = ftyp(b"isom", &[]);
            b[3] = 12;
            b
        }),
        ("pdf without a version", b"%PDF-\n".to_vec()),
        (
            "pdf after a byte order mark",
            b"\xEF\xBB\xBF%PDF-1.4\n".to_vec(),
        ),
        ("pdf after whitespace", b" %PDF-1.4\n".to_vec()),
        ("text", b"hello".to_vec()),
    ];
    for (what, bytes) in refused {
        assert_eq!(sniff(&bytes), Err(EvidenceError::TypeNotAllowed), "{what}");
        assert_eq!(
            EvidenceError::TypeNotAllowed.code(),
            ErrorCode::EvidenceTypeNotAllowed
        );
    }
}

#[test]
fn kinds_round_trip_and_name_their_types() {
    for kind in EvidenceKind::ALL {
        assert_eq!(EvidenceKind::from_code(kind.code()), Some(kind));
        assert!(kind.content_type().contains('/'));
    }
    assert_eq!(EvidenceKind::from_code("exe"), None);
    assert_eq!(
        EvidenceRole::from_code("mediator"),
        Some(EvidenceRole::Mediator)
    );
    assert_eq!(EvidenceRole::from_code("anyone"), None);
}

#[test]
fn limits_per_file_by_kind_and_per_dispute() {
    let limits = EvidenceLimits {
        max_file_bytes: 100,
        max_video_bytes: 300,
        max_dispute_bytes: 500,
        max_dispute_files: 3,
    };
    assert_eq!(limits.largest_file(), 300);
    assert_eq!(limits.check_file(EvidenceKind::Png, 100), Ok(()));
    let too_large = limits.check_file(EvidenceKind::Pdf, 101).unwrap_err();
    assert_eq!(too_large.code(), ErrorCode::EvidenceTooLarge);
    assert_eq!(
        too_large.to_string(),
        "this pdf file is 101 bytes; a pdf file may be at most 100 bytes"
    );
    assert_eq!(limits.check_file(EvidenceKind::Mp4, 300), Ok(()));
    assert!(limits.check_file(EvidenceKind::Mp4, 301).is_err());

    let usage = |files, bytes| EvidenceUsage { files, bytes };
    assert_eq!(limits.check_dispute(usage(2, 400), 100), Ok(()));
    for (files, bytes, size) in [(2, 401, 100), (3, 0, 1), (0, 0, 501), (0, u64::MAX, 1)] {
        let e = limits.check_dispute(usage(files, bytes), size).unwrap_err();
        assert_eq!(e.code(), ErrorCode::EvidenceLimitReached, "{files} {bytes}");
    }
    let d = EvidenceLimits::default();
    assert_eq!(
        (d.max_file_bytes, d.max_video_bytes, d.max_dispute_bytes),
        (10 << 20, 50 << 20, 100 << 20)
    );
    assert_eq!(d.max_dispute_files, 20);
}

#[test]
fn file_names_are_cleaned_and_end_with_their_kind() {
    use EvidenceKind::*;
    for (given, kind, kept) in [
        ("photo.jpg", Jpeg, "photo.jpg"),
        ("Photo.JPEG", Jpeg, "Photo.JPEG"),
        ("../../etc/passwd", Pdf, "passwd.pdf"),
        ("C:\\Users\\me\\receipt.pdf", Pdf, "receipt.pdf"),
        ("invoice.exe", Pdf, "invoice.exe.pdf"),
        ("evil.jpg", Png, "evil.jpg.png"),
        ("a\u{0}b\r\nc.png", Png, "abc.png"),
        ("photo\u{202E}gpj.exe", Jpeg, "photogpj.exe.jpg"),
        ("say \"hi\"; <b>.pdf", Pdf, "say _hi__ _b_.pdf"),
        ("..hidden", Webp, "hidden.webp"),
        ("", Mp4, "evidence.mp4"),
        ("/", Mp4, "evidence.mp4"),
        ("name.", Pdf, "name.pdf"),
        ("  spaced  .mp4", Mp4, "spaced  .mp4"),
        ("ünïcödé 写真.jpg", Jpeg, "ünïcödé 写真.jpg"),
    ] {
        assert_eq!(file_name(given, kind), kept, "{given:?}");
    }
    let long = format!("{}.jpg", "x".repeat(300));
    let cut = file_name(&long, Jpeg);
    assert_eq!(cut.chars().count(), MAX_FILE_NAME_CHARS);
    assert!(cut.ends_with("x.jpg"));
    let long = "写".repeat(300);
    let cut = file_name(&long, Pdf);
    assert_eq!(cut.chars().count(), MAX_FILE_NAME_CHARS);
    assert!(cut.ends_with("写.pdf"));
}

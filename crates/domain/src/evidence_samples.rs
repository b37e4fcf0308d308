//! Tiny files of each accepted format, and an executable's first bytes, built byte by byte:
//! samples for tests here and in the crates above (no binary fixtures).

pub fn jpeg() -> Vec<u8> {
    let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
    b.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
    b.extend_from_slice(&[0xFF, 0xD9]);
    b
}

pub fn png_with(chunk_len: u32, chunk: &[u8; 4], width: u32, height: u32) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
    b.extend_from_slice(&chunk_len.to_be_bytes());
    b.extend_from_slice(chunk);
    b.extend_from_slice(&width.to_be_bytes());
    b.extend_from_slice(&height.to_be_bytes());
    b.extend_from_slice(&[8, 6, 0, 0, 0]); // depth, colour type, compression, filter, interlace
    b.extend_from_slice(&[0x1F, 0x15, 0xC4, 0x89]); // CRC (not checked)
    b.extend_from_slice(b"\0\0\0\0IEND\xAE\x42\x60\x82");
    b
}

pub fn png() -> Vec<u8> {
    png_with(13, b"IHDR", 1, 1)
}

pub fn riff(form: &[u8; 4], chunk: &[u8; 4], declared_extra: u32) -> Vec<u8> {
    let mut body = form.to_vec();
    body.extend_from_slice(chunk);
    body.extend_from_slice(&4u32.to_le_bytes());
    body.extend_from_slice(&[0x2F, 0, 0, 0]);
    let mut b = b"RIFF".to_vec();
    let size = u32::try_from(body.len()).unwrap_or(u32::MAX) + declared_extra;
    b.extend_from_slice(&size.to_le_bytes());
    b.extend_from_slice(&body);
    b
}

pub fn webp() -> Vec<u8> {
    riff(b"WEBP", b"VP8L", 0)
}

pub fn ftyp(major: &[u8; 4], compatible: &[&[u8; 4]]) -> Vec<u8> {
    let size = 16 + 4 * compatible.len();
    let mut b = u32::try_from(size)
        .unwrap_or(u32::MAX)
        .to_be_bytes()
        .to_vec();
    b.extend_from_slice(b"ftyp");
    b.extend_from_slice(major);
    b.extend_from_slice(&0x200u32.to_be_bytes());
    for c in compatible {
        b.extend_from_slice(*c);
    }
    b.extend_from_slice(&8u32.to_be_bytes());
    b.extend_from_slice(b"free");
    b
}

pub fn mp4() -> Vec<u8> {
    ftyp(b"isom", &[b"isom", b"iso2", b"avc1", b"mp41"])
}

pub fn pdf() -> Vec<u8> {
    b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n".to_vec()
}

/// A Windows executable's first bytes.
pub fn exe() -> Vec<u8> {
    let mut b = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xFF\xFF\0\0".to_vec();
    b.resize(128, 0);
    b.extend_from_slice(b"PE\0\0");
    b
}

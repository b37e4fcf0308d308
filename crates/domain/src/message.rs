//! An order's message record: an append-only conversation between its buyer and seller (and
//! the platform, later a mediator), kept as evidence. Each message is chained to the one before
//! it by hash, so that an edit, a deletion or an insertion anywhere shows.
//!
//! A message's `hash` is SHA-256 over a canonical encoding of the order id, its sequence number,
//! the author's role and id, the body, the evidence file ids, the creation time (ms) and the
//! previous message's hash (see [`hash_of`]); the first message's previous hash is
//! [`GENESIS_HASH`]. [`verify`] walks one order's chain and names every break.

use std::fmt;

use sha2::{Digest as _, Sha256};

use crate::ErrorCode;

/// The previous hash of an order's first message: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Longest body, in characters (Unicode scalar values).
pub const MAX_BODY_CHARS: usize = 5_000;
/// Most evidence files one message names.
pub const MAX_FILES: usize = 10;
/// Evidence file ids: this prefix, then 1 to [`MAX_FILE_ID_TAIL`] ASCII letters and digits.
pub const FILE_ID_PREFIX: &str = "file_";
pub const MAX_FILE_ID_TAIL: usize = 64;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthorRole {
    Buyer,
    Seller,
    Mediator,
    Platform,
}

impl AuthorRole {
    pub const ALL: [AuthorRole; 4] = [
        AuthorRole::Buyer,
        AuthorRole::Seller,
        AuthorRole::Mediator,
        AuthorRole::Platform,
    ];

    pub fn code(self) -> &'static str {
        match self {
            AuthorRole::Buyer => "buyer",
            AuthorRole::Seller => "seller",
            AuthorRole::Mediator => "mediator",
            AuthorRole::Platform => "platform",
        }
    }

    pub fn parse(code: &str) -> Option<AuthorRole> {
        AuthorRole::ALL.into_iter().find(|r| r.code() == code)
    }
}

/// The author of a message: a role and the id of the party (for the platform, `platform`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    pub role: AuthorRole,
    pub id: String,
}

/// Why a message was refused; nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("the message body is empty or only white space")]
    BodyEmpty,
    #[error("the message body is {0} characters; at most {MAX_BODY_CHARS} are allowed")]
    BodyTooLong(usize),
    #[error(
        "the message body contains the control character U+{0:04X} at character {1}; only newline and tab are allowed"
    )]
    BodyInvalidCharacter(u32, usize),
    #[error("{0}")]
    FilesInvalid(String),
}

impl MessageError {
    pub fn code(&self) -> ErrorCode {
        match self {
            MessageError::BodyEmpty => ErrorCode::MessageBodyEmpty,
            MessageError::BodyTooLong(_) => ErrorCode::MessageBodyTooLong,
            MessageError::BodyInvalidCharacter(..) => ErrorCode::MessageBodyInvalidCharacter,
            MessageError::FilesInvalid(_) => ErrorCode::MessageFilesInvalid,
        }
    }

    /// The request field at fault.
    pub fn param(&self) -> &'static str {
        match self {
            MessageError::FilesInvalid(_) => "files",
            _ => "body",
        }
    }
}

/// Whether `c` may appear in a body: anything but a control character, except newline and tab.
pub fn body_char_allowed(c: char) -> bool {
    !c.is_control() || c == '\n' || c == '\t'
}

/// Checks a message body: 1 to [`MAX_BODY_CHARS`] characters, not only white space, no control
/// characters other than newline and tab.
pub fn check_body(body: &str) -> Result<(), MessageError> {
    if let Some((i, c)) = body
        .chars()
        .enumerate()
        .find(|(_, c)| !body_char_allowed(*c))
    {
        return Err(MessageError::BodyInvalidCharacter(u32::from(c), i + 1));
    }
    if body.chars().all(char::is_whitespace) {
        return Err(MessageError::BodyEmpty);
    }
    let n = body.chars().count();
    if n > MAX_BODY_CHARS {
        return Err(MessageError::BodyTooLong(n));
    }
    Ok(())
}

/// Whether `id` is an evidence file id: `file_` then 1 to 64 ASCII letters and digits.
pub fn file_id_valid(id: &str) -> bool {
    id.strip_prefix(FILE_ID_PREFIX).is_some_and(|tail| {
        (1..=MAX_FILE_ID_TAIL).contains(&tail.len())
            && tail.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// Checks the evidence file ids of a message: at most [`MAX_FILES`], each well formed, none twice.
pub fn check_files(files: &[String]) -> Result<(), MessageError> {
    if files.len() > MAX_FILES {
        return Err(MessageError::FilesInvalid(format!(
            "a message names at most {MAX_FILES} files, not {}",
            files.len()
        )));
    }
    for (i, id) in files.iter().enumerate() {
        if !file_id_valid(id) {
            return Err(MessageError::FilesInvalid(format!(
                "files[{i}] is not a file id (file_ and 1 to {MAX_FILE_ID_TAIL} letters and digits)"
            )));
        }
        if files[..i].contains(id) {
            return Err(MessageError::FilesInvalid(format!(
                "files[{i}] repeats {id}"
            )));
        }
    }
    Ok(())
}

/// One message as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: String,
    pub order: String,
    /// 1, 2, … within the order.
    pub seq: i64,
    pub author: Author,
    pub body: String,
    pub files: Vec<String>,
    /// ms since the Unix epoch.
    pub created: i64,
    pub livemode: bool,
    pub prev_hash: String,
    pub hash: String,
}

/// A message to append, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub id: String,
    pub order: String,
    pub author: Author,
    pub body: String,
    pub files: Vec<String>,
    pub livemode: bool,
}

impl Draft {
    /// A draft, if its body and files pass [`check_body`] and [`check_files`].
    pub fn new(
        id: String,
        order: String,
        author: Author,
        body: String,
        files: Vec<String>,
        livemode: bool,
    ) -> Result<Draft, MessageError> {
        check_body(&body)?;
        check_files(&files)?;
        Ok(Draft {
            id,
            order,
            author,
            body,
            files,
            livemode,
        })
    }

    /// The message this draft becomes after the chain's head (`None`: the chain is empty),
    /// created at `now`.
    pub fn append(self, head: Option<(i64, &str)>, now: i64) -> Message {
        let (seq, prev_hash) = match head {
            Some((seq, hash)) => (seq + 1, hash.to_string()),
            None => (1, GENESIS_HASH.to_string()),
        };
        let mut m = Message {
            id: self.id,
            order: self.order,
            seq,
            author: self.author,
            body: self.body,
            files: self.files,
            created: now,
            livemode: self.livemode,
            prev_hash,
            hash: String::new(),
        };
        m.hash = hash_of(&m);
        m
    }
}

/// The hash a message should carry, over its fields and `prev_hash` (not its stored `hash`, not
/// its id, not its mode). The encoding: a domain tag, then each field in order, text as its
/// UTF-8 byte length (8 bytes, big-endian) and bytes, integers as 8 bytes big-endian, the file
/// list as its count then each id; the result in lower-case hex.
pub fn hash_of(m: &Message) -> String {
    fn text(h: &mut Sha256, s: &str) {
        h.update((s.len() as u64).to_be_bytes());
        h.update(s.as_bytes());
    }
    let mut h = Sha256::new();
    text(&mut h, "holdback.message.v1");
    text(&mut h, &m.order);
    h.update(m.seq.to_be_bytes());
    text(&mut h, m.author.role.code());
    text(&mut h, &m.author.id);
    text(&mut h, &m.body);
    h.update((m.files.len() as u64).to_be_bytes());
    for f in &m.files {
        text(&mut h, f);
    }
    h.update(m.created.to_be_bytes());
    text(&mut h, &m.prev_hash);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// One break in an order's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Break {
    /// The message's sequence number is not the one after the previous message's.
    Gap { seq: i64, expected: i64 },
    /// The message's `prev_hash` is not the previous message's hash.
    WrongPrevHash { seq: i64 },
    /// The message's `hash` is not the hash of its fields: it was edited.
    WrongHash { seq: i64 },
}

impl fmt::Display for Break {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Break::Gap { seq, expected } => {
                write!(
                    f,
                    "seq {seq}: a gap in the sequence (expected seq {expected})"
                )
            }
            Break::WrongPrevHash { seq } => {
                write!(
                    f,
                    "seq {seq}: prev_hash is not the hash of the message before"
                )
            }
            Break::WrongHash { seq } => {
                write!(f, "seq {seq}: hash does not match the message's content")
            }
        }
    }
}

/// Every break in one order's chain, given its messages in ascending `seq`.
pub fn verify(messages: &[Message]) -> Vec<Break> {
    let mut breaks = Vec::new();
    let mut expected = 1;
    let mut prev = GENESIS_HASH;
    for m in messages {
        if m.seq != expected {
            breaks.push(Break::Gap {
                seq: m.seq,
                expected,
            });
        }
        if m.prev_hash != prev {
            breaks.push(Break::WrongPrevHash { seq: m.seq });
        }
        if hash_of(m) != m.hash {
            breaks.push(Break::WrongHash { seq: m.seq });
        }
        expected = m.seq.saturating_add(1);
        prev = &m.hash;
    }
    breaks
}

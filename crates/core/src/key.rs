//! Baseline keys: which baseline a run is compared with.

use std::fmt::{self, Write as _};

use serde::{Deserialize, Serialize};

/// The longest branch or platform name accepted, in bytes. Long enough for any real branch name
/// (and for hostile 1 KB names in tests); short enough that listings stay readable.
pub const MAX_KEY_PART_LEN: usize = 4096;

/// Identifies one baseline: the branch the code is on, and the platform it was measured on.
///
/// Any text is allowed except control characters, including `/`, `..` and unicode: stores never
/// use the raw text as a path, only [`BaselineKey::storage_name`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BaselineKey {
    /// Branch name, e.g. `main`.
    pub branch: String,
    /// Platform key, e.g. `linux-x86_64` (see [`crate::model::Fingerprint::platform_key`]).
    pub platform: String,
}

/// Why a key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {part} {value:?}: {reason}")]
pub struct InvalidKey {
    /// `branch` or `platform`.
    pub part: &'static str,
    /// The rejected text (truncated to 80 characters).
    pub value: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl BaselineKey {
    /// Builds a key, validating both parts.
    pub fn new(branch: impl Into<String>, platform: impl Into<String>) -> Result<Self, InvalidKey> {
        let key = BaselineKey {
            branch: branch.into(),
            platform: platform.into(),
        };
        key.validate()?;
        Ok(key)
    }

    /// Checks both parts: non-empty, at most [`MAX_KEY_PART_LEN`] bytes, no control characters.
    pub fn validate(&self) -> Result<(), InvalidKey> {
        validate_part("branch", &self.branch)?;
        validate_part("platform", &self.platform)
    }

    /// A name for this key that is safe as one file name or object-key segment on every
    /// platform, and distinct for distinct keys even on case-insensitive file systems.
    ///
    /// ASCII letters, digits, `-`, `_` and `.` (not leading) are kept so names stay readable;
    /// every other byte is percent-encoded. When the name contains upper-case letters or had to
    /// be shortened, `~` and a 64-bit hash of the exact key are appended.
    #[must_use]
    pub fn storage_name(&self) -> String {
        const MAX_PART: usize = 96;
        let branch = encode_part(&self.branch);
        let platform = encode_part(&self.platform);
        let needs_hash = branch.len() > MAX_PART
            || platform.len() > MAX_PART
            || branch
                .bytes()
                .chain(platform.bytes())
                .any(|b| b.is_ascii_uppercase());
        let mut name = format!(
            "{}@{}",
            truncate_encoded(&branch, MAX_PART),
            truncate_encoded(&platform, MAX_PART)
        );
        if needs_hash {
            let mut hash = Fnv64::default();
            hash.write(self.branch.as_bytes());
            hash.write(&[0]);
            hash.write(self.platform.as_bytes());
            let _ = write!(name, "~{:016x}", hash.0);
        }
        name
    }
}

impl fmt::Display for BaselineKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.branch, self.platform)
    }
}

fn validate_part(part: &'static str, value: &str) -> Result<(), InvalidKey> {
    let reason = if value.is_empty() {
        Some("must not be empty")
    } else if value.len() > MAX_KEY_PART_LEN {
        Some("longer than 4096 bytes")
    } else if value.chars().any(char::is_control) {
        Some("contains a control character")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(InvalidKey {
            part,
            value: value.chars().take(80).collect(),
            reason,
        }),
        None => Ok(()),
    }
}

fn encode_part(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for (i, byte) in value.bytes().enumerate() {
        let keep =
            byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' || (byte == b'.' && i > 0);
        if keep {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Cuts an encoded part to at most `max` bytes without splitting a `%XX` escape.
fn truncate_encoded(encoded: &str, max: usize) -> &str {
    if encoded.len() <= max {
        return encoded;
    }
    let mut end = max;
    // Step back over a partial escape: '%' at end-1 or end-2.
    if let Some(pos) = encoded[..end].rfind('%')
        && pos + 3 > end
    {
        end = pos;
    }
    &encoded[..end]
}

/// FNV-1a, 64 bit: a stable, dependency-free hash for disambiguating names. Not for security:
/// a name collision would need two keys chosen to collide, and both keys are stored inside their
/// documents, so a reader would notice.
#[derive(Debug)]
pub(crate) struct Fnv64(pub(crate) u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv64 {
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(branch: &str, platform: &str) -> String {
        BaselineKey::new(branch, platform).unwrap().storage_name()
    }

    #[test]
    fn plain_names_stay_readable() {
        assert_eq!(name("main", "linux-x86_64"), "main@linux-x86_64");
    }

    #[test]
    fn hostile_names_cannot_escape_a_directory() {
        for branch in ["../x", "/", "..", ".", "a/../../b", "ü/ñ", "a\\b", "con"] {
            let n = name(branch, "linux");
            assert!(
                !n.contains('/') && !n.contains('\\') && !n.starts_with('.'),
                "{n}"
            );
            assert!(n.len() <= 255, "{n}");
        }
    }

    #[test]
    fn long_names_are_shortened_and_stay_distinct() {
        let a = name(&"x".repeat(1024), "linux");
        let b = name(&format!("{}y", "x".repeat(1023)), "linux");
        assert!(a.len() <= 255);
        assert_ne!(a, b);
    }

    #[test]
    fn case_variants_differ_even_when_case_folded() {
        let upper = name("Fix", "linux").to_lowercase();
        let lower = name("fix", "linux").to_lowercase();
        assert_ne!(upper, lower);
    }

    #[test]
    fn control_characters_and_empty_parts_are_refused() {
        assert!(BaselineKey::new("a\nb", "linux").is_err());
        assert!(BaselineKey::new("", "linux").is_err());
        assert!(BaselineKey::new("main", "").is_err());
        assert!(BaselineKey::new("x".repeat(MAX_KEY_PART_LEN + 1), "linux").is_err());
    }

    #[test]
    fn truncation_never_splits_an_escape() {
        let long = "é".repeat(100);
        let n = name(&long, "linux");
        let branch_part = n.split('@').next().unwrap();
        assert!(!branch_part.ends_with('%'));
        assert!(branch_part.len().is_multiple_of(3), "{branch_part}");
    }
}

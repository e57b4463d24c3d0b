//! Tile and entry-bundle paths of C2SP tlog-tiles:
//! `tile/<L>/<N>[.p/<W>]` and `tile/entries/<N>[.p/<W>]`.
//!
//! `<L>` is 0..=63 without leading zeros. `<N>` is split into 3-digit groups, all
//! but the last prefixed with `x` (1234067 → `x001/x234/067`). `.p/<W>` marks a
//! partial tile of width 1..=255 without leading zeros. Parsing accepts only the
//! canonical form, so each resource has exactly one path.

use std::fmt;

use crate::tiles::TILE_WIDTH;
use crate::TlogError;

/// Highest tile level a path may name (C2SP tlog-tiles: "between 0 and 63").
pub const MAX_TILE_LEVEL: u8 = 63;

/// Index groups are 3 decimal digits.
const GROUP_BASE: u64 = 1000;

/// A `u64` needs at most 7 groups of 3 digits.
const MAX_GROUPS: usize = 7;

/// Longer than any canonical path (`tile/entries/` + 7 groups + `.p/255`).
const MAX_PATH_LEN: usize = 64;

/// A parsed tile or entry-bundle path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TilePath {
    /// The tile level, or `None` for an entry bundle (`tile/entries/...`).
    pub level: Option<u8>,
    /// The tile index `N`.
    pub index: u64,
    /// The width: 1..=255 for a partial tile, 256 for a full one.
    pub width: u16,
}

impl TilePath {
    /// The canonical path, starting with `tile/`.
    pub fn to_path(&self) -> String {
        let level = match self.level {
            Some(level) => level.to_string(),
            None => "entries".to_owned(),
        };
        format_path(&level, self.index, self.width)
    }
}

impl fmt::Display for TilePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_path())
    }
}

/// The path of hash tile `level`/`index` holding `width` hashes, e.g.
/// `tile/1/x001/x234/067.p/8`. A width of 256 or more means a full tile (no
/// `.p/` suffix); widths must otherwise be 1..=255.
pub fn tile_path(level: u8, index: u64, width: u16) -> String {
    format_path(&level.to_string(), index, width)
}

/// The path of entry bundle `index` holding `width` entries, e.g.
/// `tile/entries/x001/234.p/17`.
pub fn entries_path(index: u64, width: u16) -> String {
    format_path("entries", index, width)
}

fn format_path(level: &str, index: u64, width: u16) -> String {
    let mut groups = Vec::with_capacity(MAX_GROUPS);
    let mut rest = index;
    loop {
        groups.push(rest % GROUP_BASE);
        rest /= GROUP_BASE;
        if rest == 0 {
            break;
        }
    }
    let mut path = format!("tile/{level}/");
    for (i, group) in groups.iter().rev().enumerate() {
        if i + 1 < groups.len() {
            path.push_str(&format!("x{group:03}/"));
        } else {
            path.push_str(&format!("{group:03}"));
        }
    }
    if width < TILE_WIDTH {
        path.push_str(&format!(".p/{width}"));
    }
    path
}

/// Parses a canonical tile or entry-bundle path, with or without the leading
/// `tile/` (`tile/0/x001/234.p/7` or `0/x001/234.p/7`, `tile/entries/000`).
///
/// # Errors
///
/// [`TlogError::MalformedTilePath`] for anything but the canonical form: a level
/// above 63 or with leading zeros, an index group that is not 3 digits, a redundant
/// leading `x000/` group, an index beyond `u64`, a width of 0, 256 or more or with
/// leading zeros, or stray components.
pub fn parse_tile_path(path: &str) -> Result<TilePath, TlogError> {
    if path.len() > MAX_PATH_LEN {
        return Err(TlogError::MalformedTilePath("too long"));
    }
    let rest = path.strip_prefix("tile/").unwrap_or(path);
    let mut parts: Vec<&str> = rest.split('/').collect();

    let level = match parts.first().copied() {
        Some("entries") => None,
        Some(level) => Some(parse_level(level)?),
        None => return Err(TlogError::MalformedTilePath("empty")),
    };

    let mut width = TILE_WIDTH;
    if parts.len() >= 3 {
        let before_last = parts[parts.len() - 2];
        if let Some(stripped) = before_last.strip_suffix(".p") {
            width = parse_width(parts[parts.len() - 1])?;
            parts.pop();
            let last = parts.len() - 1;
            parts[last] = stripped;
        }
    }

    let index = parse_index(&parts[1..])?;
    Ok(TilePath {
        level,
        index,
        width,
    })
}

fn parse_level(text: &str) -> Result<u8, TlogError> {
    let number = parse_canonical_decimal(text).ok_or(TlogError::MalformedTilePath("bad level"))?;
    u8::try_from(number)
        .ok()
        .filter(|level| *level <= MAX_TILE_LEVEL)
        .ok_or(TlogError::MalformedTilePath("level above 63"))
}

fn parse_width(text: &str) -> Result<u16, TlogError> {
    let number = parse_canonical_decimal(text).ok_or(TlogError::MalformedTilePath("bad width"))?;
    u16::try_from(number)
        .ok()
        .filter(|width| (1..TILE_WIDTH).contains(width))
        .ok_or(TlogError::MalformedTilePath(
            "partial width must be 1..=255",
        ))
}

fn parse_index(groups: &[&str]) -> Result<u64, TlogError> {
    let Some((last, leading)) = groups.split_last() else {
        return Err(TlogError::MalformedTilePath("missing index"));
    };
    if groups.len() > MAX_GROUPS {
        return Err(TlogError::MalformedTilePath("index too large"));
    }
    if leading.first() == Some(&"x000") {
        return Err(TlogError::MalformedTilePath(
            "index has leading zero groups",
        ));
    }
    let mut index: u64 = 0;
    for group in leading {
        let digits = group
            .strip_prefix('x')
            .ok_or(TlogError::MalformedTilePath("index group without x"))?;
        index = push_group(index, digits)?;
    }
    push_group(index, last)
}

fn push_group(index: u64, digits: &str) -> Result<u64, TlogError> {
    if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TlogError::MalformedTilePath("index group is not 3 digits"));
    }
    let group = digits
        .parse::<u64>()
        .map_err(|_| TlogError::MalformedTilePath("index group is not 3 digits"))?;
    index
        .checked_mul(GROUP_BASE)
        .and_then(|index| index.checked_add(group))
        .ok_or(TlogError::MalformedTilePath("index too large"))
}

/// ASCII decimal with no sign and no leading zeros ("0" itself is fine), up to 5
/// digits (callers bound the value further).
fn parse_canonical_decimal(text: &str) -> Option<u32> {
    let canonical = !text.is_empty()
        && text.len() <= 5
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

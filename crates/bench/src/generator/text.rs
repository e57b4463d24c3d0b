//! Payload text, personal data (valid card numbers and IBANs) and timestamps.

use super::rng::Rng;
use super::world::{MAIL_DOMAINS, WORDS};

/// Sentence-like text of about `mean` bytes, spread (see [`Rng::spread`]).
pub(super) fn spread_text(rng: &mut Rng, mean: usize) -> String {
    let bytes = rng.size(mean);
    sentence_text(rng, bytes)
}

/// Roughly `bytes` of sentence-like text.
pub(super) fn sentence_text(rng: &mut Rng, bytes: usize) -> String {
    let mut text = String::with_capacity(bytes + 16);
    let mut capital = true;
    while text.len() < bytes.max(12) {
        if !text.is_empty() {
            text.push(' ');
        }
        let word = *rng.pick(WORDS);
        if capital {
            text.push_str(&capitalize(word));
            capital = false;
        } else {
            text.push_str(word);
        }
        match rng.below(16) {
            0 => {
                text.push('.');
                capital = true;
            }
            1 => text.push(','),
            _ => {}
        }
    }
    text.push('.');
    text
}

pub(super) fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// With probability `share`, appends personal data of `customer` ("First Last") to
/// `text`. Every event has at most one such text, so the share is per event.
pub(super) fn with_pii(rng: &mut Rng, share: f64, customer: &str, text: &mut String) {
    if !rng.chance(share) {
        return;
    }
    let mut name = customer.to_ascii_lowercase().replace(' ', ".");
    name.push_str(&rng.range(1, 99).to_string());
    let snippet = match rng.below(10) {
        0..=3 => format!(" Contact: {name}@{}.", rng.pick(MAIL_DOMAINS)),
        4..=6 => format!(" Call back on {}.", phone(rng)),
        7..=8 => format!(" Card on file {}.", card_number(rng)),
        _ => format!(" Refund to IBAN {}.", iban(rng)),
    };
    text.push_str(&snippet);
}

pub(super) fn digits(rng: &mut Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b'0' + u8::try_from(rng.below(10)).unwrap_or(0)))
        .collect()
}

pub(super) fn phone(rng: &mut Rng) -> String {
    match rng.below(3) {
        0 => format!("+1 {} 555 {}", rng.range(201, 989), digits(rng, 4)),
        1 => format!("+44 20 7946 {}", digits(rng, 4)),
        _ => format!("+49 30 {} {}", digits(rng, 4), digits(rng, 4)),
    }
}

/// A 16-digit card number passing the Luhn check, in groups of four.
pub(super) fn card_number(rng: &mut Rng) -> String {
    let mut number: Vec<u32> = vec![4];
    number.extend((0..14).map(|_| u32::try_from(rng.below(10)).unwrap_or(0)));
    number.push(luhn_check_digit(&number));
    let text: String = number
        .iter()
        .map(|d| char::from_digit(*d, 10).unwrap_or('0'))
        .collect();
    format!(
        "{} {} {} {}",
        &text[0..4],
        &text[4..8],
        &text[8..12],
        &text[12..16]
    )
}

/// The digit that makes `payload` followed by it pass the Luhn check.
pub(super) fn luhn_check_digit(payload: &[u32]) -> u32 {
    let sum: u32 = payload
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 0 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    (10 - sum % 10) % 10
}

/// A German IBAN with valid mod-97 check digits, grouped by four half the time.
pub(super) fn iban(rng: &mut Rng) -> String {
    let bban = digits(rng, 18);
    // Check digits: 98 - (BBAN ‖ "DE" as 1314 ‖ "00") mod 97.
    let check = 98 - mod97(&format!("{bban}131400"));
    let compact = format!("DE{check:02}{bban}");
    if rng.chance(0.5) {
        return compact;
    }
    compact
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn mod97(digits: &str) -> u32 {
    digits
        .bytes()
        .fold(0, |acc, b| (acc * 10 + u32::from(b - b'0')) % 97)
}

/// `unix_ms` as RFC 3339 UTC with milliseconds.
pub(super) fn timestamp(unix_ms: i64) -> String {
    let days = unix_ms.div_euclid(86_400_000);
    let ms_of_day = unix_ms.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1_000 % 60,
        ms_of_day % 1_000
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's
/// `civil_from_days`).
pub(super) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cards_pass_luhn_and_ibans_pass_mod_97() {
        let mut rng = Rng::new(9);
        for _ in 0..200 {
            let card: Vec<u32> = card_number(&mut rng)
                .chars()
                .filter_map(|c| c.to_digit(10))
                .collect();
            assert_eq!(luhn_check_digit(&card[..15]), card[15]);
            let iban: String = iban(&mut rng).chars().filter(|c| *c != ' ').collect();
            let rearranged = format!("{}1314{}", &iban[4..], &iban[2..4]);
            assert_eq!(mod97(&rearranged), 1, "{iban}");
        }
    }

    #[test]
    fn timestamps_are_rfc_3339() {
        assert_eq!(
            timestamp(super::super::DEFAULT_START_UNIX_MS),
            "2026-01-01T00:00:00.000Z"
        );
        assert_eq!(timestamp(951_827_696_789), "2000-02-29T12:34:56.789Z");
    }
}

//! Checksums and structural rules that keep look-alikes out: Luhn for payment
//! cards, ISO 7064 mod-97 for IBANs, the SSA's rules for US SSNs, and the issuer
//! prefixes of the card networks.

/// The Luhn check (ISO/IEC 7812-1 annex B).
pub fn luhn_valid(digits: &str) -> bool {
    if digits.len() < 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
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
    sum.is_multiple_of(10)
}

/// Issuer prefixes and lengths of the major card networks (ISO/IEC 7812 IINs), so a
/// Luhn-valid order number is not taken for a card.
pub(crate) fn card_prefix_and_length(digits: &str) -> bool {
    let len = digits.len();
    let prefix = |n: usize| {
        digits
            .get(..n)
            .and_then(|p| p.parse::<u32>().ok())
            .unwrap_or(0)
    };
    let visa = digits.starts_with('4') && matches!(len, 13 | 16 | 19);
    let mastercard =
        ((51..=55).contains(&prefix(2)) || (2221..=2720).contains(&prefix(4))) && len == 16;
    let amex = matches!(prefix(2), 34 | 37) && len == 15;
    let discover = (prefix(4) == 6011 || prefix(2) == 65 || (644..=649).contains(&prefix(3)))
        && (16..=19).contains(&len);
    let diners = ((300..=305).contains(&prefix(3)) || matches!(prefix(2), 36 | 38))
        && (14..=19).contains(&len);
    // JCB: 3528-3589 assigned, the whole 35 range reserved to it; 15-digit cards
    // under the older 1800 and 2131 ranges.
    let jcb = (prefix(2) == 35 && (16..=19).contains(&len))
        || (matches!(prefix(4), 1800 | 2131) && len == 15);
    // Maestro: 12 to 19 digits under its own IIN ranges (0604 and 6390: former UK
    // Maestro and Switch ranges still printed on cards).
    let maestro = (matches!(
        prefix(4),
        604 | 5018 | 5020 | 5038 | 5893 | 6304 | 6390 | 6759 | 6761..=6763
    ) || (56..=58).contains(&prefix(2)))
        && (12..=19).contains(&len);
    visa || mastercard || amex || discover || diners || jcb || maestro
}

/// Separators in a card number are all the same (or absent).
pub(crate) fn consistent_separators(text: &str) -> bool {
    let seps: Vec<char> = text.chars().filter(|c| !c.is_ascii_digit()).collect();
    seps.windows(2).all(|w| w[0] == w[1])
}

/// The IBAN check: move the first four characters to the end, letters to numbers
/// (A = 10), and the remainder mod 97 must be 1 (ISO 7064 MOD 97-10).
pub fn mod97_valid(iban: &str) -> bool {
    if iban.len() < 5
        || !iban
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return false;
    }
    let (head, tail) = iban.split_at(4);
    let mut remainder: u32 = 0;
    for c in tail.chars().chain(head.chars()) {
        let value = c.to_digit(36).unwrap_or(0);
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    remainder == 1
}

/// SSA rules: no area 000, 666 or 900–999, no group 00, no serial 0000.
pub(crate) fn ssn_valid(ssn: &str) -> bool {
    let parts: Vec<&str> = ssn.split('-').collect();
    let [area, group, serial] = parts.as_slice() else {
        return false;
    };
    let area: u32 = area.parse().unwrap_or(0);
    area != 0 && area != 666 && area < 900 && *group != "00" && *serial != "0000"
}

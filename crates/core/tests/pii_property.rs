//! Property: a value the detectors find on its own is found whatever surrounds it
//! (CONTRACT section 2, "A value is found whatever surrounds it"). Values of every
//! built-in kind are generated (phone numbers from libphonenumber's example numbers of
//! every region) and put between random pieces of punctuation, brackets, quotes,
//! `key=value`, URLs, Markdown, escaped JSON, line breaks and non-ASCII text.

use std::net::{Ipv4Addr, Ipv6Addr};

use evident_core::pii::{luhn_valid, Detectors};
use evident_core::token::TokenKey;
use proptest::prelude::*;

const BEFORE: &[&str] = &[
    "",
    " ",
    "(",
    "[",
    "{",
    "\"",
    "'",
    "«",
    "“",
    "„",
    "key=",
    "k: ",
    "value:",
    "cc:",
    "https://example.com/p?q=",
    "&v=",
    "**",
    "`",
    "~~",
    "_",
    "\n",
    "\t",
    "\r\n",
    "> ",
    "- ",
    "| ",
    "\\\"",
    "\\n",
    "联系",
    "電話：",
    "Ärger ",
    "é",
    "→",
    "<",
    "<td>",
    "=",
    ":",
    "see ",
    "mailto:",
    "tel:",
    "/",
    "…",
    "¿",
    "#",
];
const AFTER: &[&str] = &[
    "", " ", ".", ",", ";", "!", "?", ")", "]", "}", "\"", "'", "»", "”", "“", "&x=a", "\n",
    "\r\n", "\t", "**", "`", "~~", "_", "...", "|", ">", "</td>", "。", "谢谢", "ü", "\\\"", "\\n",
    ").", "\"}", "/", "…", ":", " -",
];

fn context() -> impl Strategy<Value = (String, String)> {
    let side = |pieces: &'static [&'static str]| {
        prop::collection::vec(prop::sample::select(pieces), 0..3).prop_map(|p| p.concat())
    };
    (side(BEFORE), side(AFTER))
}

fn email() -> impl Strategy<Value = String> {
    (
        "[a-z][a-z0-9]{0,8}([._+-][a-z0-9]{1,6})?",
        "[a-z][a-z0-9-]{0,10}[a-z0-9]",
        prop::sample::select(&["com", "org", "net", "de", "co.uk", "io", "example"][..]),
    )
        .prop_map(|(local, domain, tld)| format!("{local}@{domain}.{tld}"))
}

fn card() -> impl Strategy<Value = String> {
    (
        prop::sample::select(
            &[
                ("4", 16),
                ("51", 16),
                ("2221", 16),
                ("37", 15),
                ("6011", 16),
                ("3530", 16),
                ("4", 19),
            ][..],
        ),
        prop::collection::vec(0u8..10, 19),
        prop::sample::select(&["", " ", "-"][..]),
    )
        .prop_map(|((prefix, len), digits, sep)| {
            let mut number: String = prefix.to_owned();
            for d in &digits[..len - prefix.len() - 1] {
                number.push(char::from(b'0' + d));
            }
            let check = (0..10u8)
                .map(|d| format!("{number}{d}"))
                .find(|n| luhn_valid(n))
                .expect("one check digit fits");
            if sep.is_empty() || len != 16 {
                return check;
            }
            check
                .as_bytes()
                .chunks(4)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect::<Vec<_>>()
                .join(sep)
        })
}

fn iban() -> impl Strategy<Value = String> {
    (
        prop::sample::select(&[("DE", 18), ("FR", 23), ("NL", 10), ("ES", 20), ("IT", 23)][..]),
        prop::collection::vec(0u8..10, 23),
        any::<bool>(),
    )
        .prop_map(|((country, len), digits, grouped)| {
            let mut bban: String = digits[..len].iter().map(|d| char::from(b'0' + d)).collect();
            if country == "NL" {
                bban = format!("ABNA{bban}");
            }
            // ISO 7064 MOD 97-10: the check digits make the rearranged number ≡ 1.
            let rearranged = format!("{bban}{country}00");
            let remainder = rearranged.chars().fold(0u32, |r, c| {
                let v = c.to_digit(36).unwrap();
                if v >= 10 {
                    (r * 100 + v) % 97
                } else {
                    (r * 10 + v) % 97
                }
            });
            let iban = format!("{country}{:02}{bban}", 98 - remainder);
            if !grouped {
                return iban;
            }
            iban.as_bytes()
                .chunks(4)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect::<Vec<_>>()
                .join(" ")
        })
}

fn ip() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|o| Ipv4Addr::from(o).to_string()),
        (1u16..0xffff, any::<[u16; 7]>()).prop_map(|(first, rest)| {
            let g = [
                first, rest[0], rest[1], rest[2], rest[3], rest[4], rest[5], rest[6],
            ];
            Ipv6Addr::from(g).to_string()
        }),
    ]
}

fn ssn() -> impl Strategy<Value = String> {
    (1u32..900, 1u32..100, 1u32..10000)
        .prop_filter("SSA never issues area 666", |(area, _, _)| *area != 666)
        .prop_map(|(a, g, s)| format!("{a:03}-{g:02}-{s:04}"))
}

/// Every region's example mobile and fixed-line numbers, written internationally.
fn phone() -> impl Strategy<Value = String> {
    let mut numbers = Vec::new();
    for plan in phonenumber::metadata::DATABASE.iter() {
        let d = plan.descriptors();
        for example in [d.mobile(), d.fixed_line()]
            .into_iter()
            .flatten()
            .filter_map(|e| e.example())
        {
            if let Ok(number) =
                phonenumber::parse(None, format!("+{}{example}", plan.country_code()))
            {
                numbers.push(
                    number
                        .format()
                        .mode(phonenumber::Mode::International)
                        .to_string(),
                );
                numbers.push(number.format().mode(phonenumber::Mode::E164).to_string());
            }
        }
    }
    prop::sample::select(numbers)
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![email(), card(), iban(), ip(), ssn(), phone()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn a_detected_value_is_found_in_any_context(value in value(), (before, after) in context()) {
        let key = TokenKey::from_bytes([9; 32]);
        let detectors = Detectors::default();
        let mut alone = Vec::new();
        detectors.tokenize(&key, &format!(" {value} "), &mut alone);
        prop_assume!(alone.iter().any(|f| f.value == value), "not detected on its own");
        let kind = alone.iter().find(|f| f.value == value).unwrap().kind.clone();

        let text = format!("{before}{value}{after}");
        let mut found = Vec::new();
        let replaced = detectors.tokenize(&key, &text, &mut found).unwrap_or_else(|| text.clone());
        prop_assert!(
            found.iter().any(|f| f.kind == kind && f.value.contains(value.as_str())),
            "{kind} {value:?} not found in {text:?}: {found:?}"
        );
        prop_assert!(!replaced.contains(value.as_str()), "{value:?} left in {replaced:?}");
    }
}

/// The generators above make values the detectors recognise on their own: otherwise
/// the property would pass by discarding every case.
#[test]
fn generated_values_are_detected_on_their_own() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let key = TokenKey::from_bytes([9; 32]);
    let detectors = Detectors::default();
    let mut runner = TestRunner::deterministic();
    let strategy = value();
    let mut detected = 0;
    for _ in 0..500 {
        let value = strategy.new_tree(&mut runner).unwrap().current();
        let mut found = Vec::new();
        detectors.tokenize(&key, &format!(" {value} "), &mut found);
        if found.iter().any(|f| f.value == value) {
            detected += 1;
        }
    }
    assert!(
        detected >= 490,
        "only {detected} of 500 generated values detected alone"
    );
}

/// A case the property found: an address followed by "::" (a separator in some log
/// formats) was cut to the "1::" after its own "::", leaving "1::" in clear.
#[test]
fn an_ipv6_address_followed_by_colons_is_found_whole() {
    let key = TokenKey::from_bytes([9; 32]);
    let detectors = Detectors::default();
    for text in [
        "1::1::",
        " 1::1::.",
        "key=1::1:::",
        "cc:1:0:1:0:1:0:1:0",
        "a 2001:db8::1: down",
    ] {
        let mut found = Vec::new();
        let replaced = detectors.tokenize(&key, text, &mut found).expect("found");
        let value = text
            .trim_start_matches(|c: char| !c.is_ascii_digit())
            .trim_end_matches([':', '.', ' ', 'd', 'o', 'w', 'n']);
        assert!(
            found.iter().any(|f| f.kind == "IP" && f.value == value),
            "{value:?} not found whole in {text:?}: {found:?}"
        );
        assert!(!replaced.contains(value), "{value:?} left in {replaced:?}");
    }
}

#!/usr/bin/env python3
"""Generate the labelled personal-data corpus in testdata/pii/generated.jsonl.

Values come from Faker's locale providers (pinned in pii-corpus-requirements.txt),
never from Evident's own detectors: each value is put into one of many surrounding
contexts (punctuation, brackets, quotes, key=value, URLs, Markdown, JSON inside a
string, line breaks, non-ASCII neighbours) and labelled with its kind. Hard
negatives (order numbers, timestamps, versions, hashes, UUIDs, amounts, ISBNs, ...)
are labelled with no value. Declared identifiers (names, customer ids, addresses,
dates of birth) carry the declaration an event would send in
context.subject_identifiers.

Usage:
    python3 -m venv .venv && .venv/bin/pip install -r scripts/pii-corpus-requirements.txt
    .venv/bin/python scripts/pii-corpus.py > testdata/pii/generated.jsonl

The output is deterministic for a given Faker version (fixed seeds).
"""

import datetime
import ipaddress
import json
import random
import sys

from faker import Faker

SEED = 20261207
# Faker's dates default to ranges ending now; fixed bounds keep the output stable.
START = datetime.datetime(2001, 1, 1)
END = datetime.datetime(2026, 1, 1)

# Locales whose phone numbers must be found in national format when the region is
# configured (and, with their country code, always).
PHONE_LOCALES = {
    "en_US": "US",
    "en_CA": "CA",
    "en_GB": "GB",
    "de_DE": "DE",
    "fr_FR": "FR",
    "es_ES": "ES",
    "it_IT": "IT",
    "nl_NL": "NL",
    "en_IN": "IN",
    "pt_BR": "BR",
}
OTHER_LOCALES = ["pl_PL", "sv_SE", "ja_JP", "zh_CN", "tr_TR", "cs_CZ"]

# Surrounding contexts; {v} is the value. JSON-in-string contexts hold the value the
# way a JSON document serialised into a string field would.
CONTEXTS = [
    "{v}",
    " {v} ",
    "see {v}.",
    "Contact: {v}, thanks",
    "({v})",
    "[{v}]",
    "{{{v}}}",
    '"{v}"',
    "'{v}'",
    "«{v}»",
    "“{v}”",
    "„{v}“",
    "key={v}",
    "key={v};",
    "value:{v}|",
    "key: {v}\nnext: 1",
    "https://example.com/cb?user={v}&x=1",
    "https://example.com/q?a=1&contact={v}",
    "**{v}**",
    "_{v}_",
    "`{v}`",
    "*{v}*",
    "~~{v}~~",
    "| {v} | active |",
    "|{v}|",
    '{{\\"note\\":\\"reach me at {v}\\"}}',
    '{{\\"customer\\":{{\\"contact\\":\\"{v}\\"}}}}',
    '"to": "{v}",',
    "line one\n{v}\nline three",
    "\t{v}\t",
    "{v}\r\n",
    "联系{v}谢谢",
    "用户 {v} 已验证",
    "電話：{v}。",
    "Ärger mit {v}, bitte prüfen",
    "→{v}←",
    "<{v}>",
    "<td>{v}</td>",
    "<b>{v}</b>",
    "{v}!",
    "{v}?",
    "¿{v}?",
    "{v}...",
    "…{v}…",
    "- {v}\n- second item",
    "> {v}",
    "Note:\n\n> {v}\n",
    "name=Jane&value={v}",
    "(see {v}).",
    "[{v}],",
    "cc:{v}",
    "=> {v} <=",
    "'{v}',",
    "/{v}/",
    "id:{v};",
    "The customer wrote from {v} yesterday and asked again.",
    "Customer details: {v}. Please verify before the refund.",
    "tool_result: ok ({v})",
    "args: [\"{v}\", 3]",
    "[contact]({v})",
]

# Contexts where a value is inside a longer token, used where the format allows it.
EMAIL_ONLY = ["mailto:{v}", "[mail](mailto:{v})", "https://example.com/login?next=%2F&email={v}"]
PHONE_ONLY = ["tel:{v}", "phone:{v};", "Tel.: {v}", "Mobil {v}", "☎ {v}"]
IP_ONLY = ["http://{v}:8080/path", "from={v}:443", "X-Forwarded-For: {v}"]


def ipv6_url_context(rng, v):
    return rng.choice(["http://[{v}]:8080/", "[{v}]:443", "addr={v}"]).format(v=v)


def case(text, expected, **extra):
    line = {"text": text, "expected": expected}
    line.update(extra)
    return line


def put(rng, value, kind, extra_contexts=(), **extra):
    template = rng.choice(CONTEXTS + list(extra_contexts))
    return case(template.format(v=value), [{"kind": kind, "value": value}], context=template, **extra)


def card_formats(rng, digits):
    style = rng.choice(["bare", "bare", "space4", "dash4"])
    if style == "bare" or len(digits) not in (16, 19, 13):
        if style != "bare" and len(digits) == 15:
            sep = " " if style == "space4" else "-"
            return sep.join([digits[:4], digits[4:10], digits[10:]])
        return digits
    sep = " " if style == "space4" else "-"
    return sep.join(digits[i : i + 4] for i in range(0, len(digits), 4))


def iban_formats(rng, iban):
    if rng.random() < 0.5:
        return iban
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def name_variants(rng, first, last):
    return rng.choice(
        [
            f"{first} {last}",
            f"{last}, {first}",
            f"{first[0]}. {last}",
            f"{first.upper()} {last.upper()}",
            f"{first.lower()} {last.lower()}",
            f"{first}  {last}",
            f"{first}\n{last}",
        ]
    )


def main():
    rng = random.Random(SEED)
    Faker.seed(SEED)
    out = []

    fakers = {loc: Faker(loc) for loc in list(PHONE_LOCALES) + OTHER_LOCALES}

    # E-mail addresses: every locale's person and company providers.
    for loc, f in fakers.items():
        for _ in range(170):
            value = rng.choice([f.email, f.free_email, f.company_email, f.ascii_email])()
            out.append(put(rng, value, "EMAIL", EMAIL_ONLY, locale=loc))

    # Phone numbers: national and international formats of the covered regions, and
    # international formats of other regions.
    for loc, region in PHONE_LOCALES.items():
        f = fakers[loc]
        for _ in range(320):
            value = f.phone_number()
            out.append(put(rng, value, "PHONE", PHONE_ONLY, locale=loc, region=region))
    for loc in OTHER_LOCALES:
        f = fakers[loc]
        for _ in range(60):
            value = f.phone_number()
            out.append(put(rng, value, "PHONE", PHONE_ONLY, locale=loc))

    # Payment cards of every network Faker knows.
    f = fakers["en_US"]
    networks = ["visa13", "visa16", "visa19", "mastercard", "amex", "discover", "diners", "jcb15", "jcb16", "maestro"]
    for _ in range(1600):
        network = rng.choice(networks)
        value = card_formats(rng, f.credit_card_number(network))
        out.append(put(rng, value, "CARD", network=network))

    # IBANs of every locale's bank provider, compact and in print format.
    for loc, f in fakers.items():
        for _ in range(100):
            try:
                iban = f.iban()
            except AttributeError:
                iban = fakers["de_DE"].iban()
            out.append(put(rng, iban_formats(rng, iban), "IBAN", locale=loc))

    # US social security numbers.
    f = fakers["en_US"]
    for _ in range(800):
        out.append(put(rng, f.ssn(), "SSN", locale="en_US"))

    # IP addresses: public and private IPv4, IPv6 in full and compressed form.
    for _ in range(1600):
        which = rng.random()
        if which < 0.4:
            value = f.ipv4_public()
        elif which < 0.6:
            value = f.ipv4_private()
        elif which < 0.8:
            value = f.ipv6()
        else:
            value = ipaddress.IPv6Address(f.ipv6()).compressed
        if ":" in value and rng.random() < 0.2:
            out.append(case(ipv6_url_context(rng, value), [{"kind": "IP", "value": value}], context="ipv6-url"))
        else:
            out.append(put(rng, value, "IP", IP_ONLY if ":" not in value else ()))

    # Declared identifiers: the text mentions what the event declares, in its usual
    # variants; a pattern could not find these.
    for loc, f in fakers.items():
        for _ in range(160):
            first, last = f.first_name(), f.last_name()
            customer_id = f.bothify("C-####")
            declared = {"name": f"{first} {last}", "customer_id": customer_id}
            which = rng.random()
            if which < 0.6:
                value, kind = name_variants(rng, first, last), "NAME"
            elif which < 0.8:
                value, kind = customer_id, "CUSTOMER_ID"
            elif which < 0.9:
                address = f.street_address()
                declared["address"] = address
                value, kind = address, "ADDRESS"
            else:
                dob = f.date_between(datetime.date(1940, 1, 1), datetime.date(2008, 1, 1)).isoformat()
                declared["date_of_birth"] = dob
                value, kind = dob, "DATE_OF_BIRTH"
            out.append(put(rng, value, kind, locale=loc, declared=declared))

    # Hard negatives: things agent payloads are full of that must stay in clear.
    negatives = {
        "order_number": lambda: f.bothify(rng.choice(["ORD-####-######", "#########", "PO-########", "INV/####/#####", "order ##########"])),
        "timestamp": lambda: rng.choice([f.iso8601(end_datetime=END), str(int(f.unix_time(start_datetime=START, end_datetime=END))), str(int(f.unix_time(start_datetime=START, end_datetime=END) * 1000)), f.date_time_between(START, END).strftime("%Y-%m-%d %H:%M:%S"), f.time(end_datetime=END)]),
        "version": lambda: rng.choice([f"{rng.randint(0, 30)}.{rng.randint(0, 40)}.{rng.randint(0, 200)}", f"v{rng.randint(0, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 20)}-rc.{rng.randint(1, 9)}", f"10.0.{rng.randint(10000, 26000)}.{rng.randint(1, 4000)}"]),
        "hash": lambda: rng.choice([f.md5(), f.sha1(), f.sha256(), f.sha1()[:7], "sha256:" + f.sha256()]),
        "uuid": lambda: str(f.uuid4()),
        "amount": lambda: rng.choice([f.pricetag(), f"EUR {rng.randint(1, 99999):,}.{rng.randint(0, 99):02d}".replace(",", "."), f"{rng.randint(1000, 9999999)} USD", f"{rng.uniform(0, 100000):.2f}"]),
        "isbn": lambda: rng.choice([f.isbn10(), f.isbn13(), f.isbn13().replace("-", "")]),
        "ean": lambda: rng.choice([f.ean13(), f.ean8()]),
        "postcode": lambda: rng.choice([f.postcode(), fakers["de_DE"].postcode(), fakers["en_GB"].postcode()]),
        "coordinates": lambda: f"{f.latitude()}, {f.longitude()}",
        "port": lambda: f"localhost:{f.port_number()}",
        "trace_id": lambda: f.hexify("^" * 32),
        "count": lambda: rng.choice([f"{rng.randint(1000, 99999999)}", f"{rng.randint(1, 999):,} tokens", f"latency {rng.randint(10, 99999)} ms"]),
        "date": lambda: f.date_between(START, END).strftime(rng.choice(["%Y-%m-%d", "%d.%m.%Y", "%m/%d/%Y", "%Y/%m/%d"])),
    }
    for _ in range(3400):
        label = rng.choice(sorted(negatives))
        value = negatives[label]()
        template = rng.choice(CONTEXTS)
        out.append(case(template.format(v=value), [], context=template, negative=label))

    rng.shuffle(out)
    for line in out:
        sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()

"""PII scrubbing finds emails, phones, cards, IBANs and IPs, and leaves the shop's ordinary text."""

import pytest

from feedback.pii import PLACEHOLDERS, find_pii, scrub_pii

SHOP_TEXTS = [
    "Call +47 55 20 40 60, Monday to Friday 9:00 to 18:00",
    "free shipping over 50 euros, otherwise 4.90 euros",
    "the Fjord Shell jacket is rated 20,000 mm",
    "Strandgaten 12, Bergen",
]


@pytest.mark.parametrize(
    ("text", "email"),
    [
        ("Write to anna.berg@example.no.", "anna.berg@example.no"),
        ("My address is kari99@gmail.com, please reply", "kari99@gmail.com"),
        ("support+orders@fjord-shop.co.uk!", "support+orders@fjord-shop.co.uk"),
        ("(ola_nordmann@mail.example.com)", "ola_nordmann@mail.example.com"),
        ("mailto:Per.Hansen@Example.NO?", "Per.Hansen@Example.NO"),
        ("is bjørn@fjellet.no still valid?", "bjørn@fjellet.no"),
        ("reach me at j.doe-1985@sub.domain.travel;", "j.doe-1985@sub.domain.travel"),
    ],
)
def test_finds_emails_without_trailing_punctuation(text, email):
    assert find_pii(text) == [("email", email)]
    assert scrub_pii(text) == text.replace(email, "[email]")


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("Call +47 55 20 40 60, Monday to Friday 9:00 to 18:00", "+47 55 20 40 60"),
        ("my number is +4791234567.", "+4791234567"),
        ("ring +44 (0)20 7946 0958 after lunch", "+44 (0)20 7946 0958"),
        ("US office: +1 (555) 123-4567", "+1 (555) 123-4567"),
        ("call +1.555.123.4567 today", "+1.555.123.4567"),
        ("Berlin +49 30 12345678", "+49 30 12345678"),
        ("portable +33 6 12 34 56 78", "+33 6 12 34 56 78"),
        ("or 0047 55 20 40 60 from abroad", "0047 55 20 40 60"),
        ("my mobile is 912 34 567", "912 34 567"),
        ("call me on 55 20 40 60, thanks", "55 20 40 60"),
        ("Tel:22 33 44 55", "22 33 44 55"),
        ("(555) 123-4567 is my cell", "(555) 123-4567"),
        ("text 555-123-4567 please", "555-123-4567"),
        ("call 555.123.4567", "555.123.4567"),
        ("London 020 7946 0958", "020 7946 0958"),
        ("Berlin 030 12345678", "030 12345678"),
        ("Stockholm 08-123 456 78", "08-123 456 78"),
        ("portable 06 12 34 56 78", "06 12 34 56 78"),
        ("portable 06.12.34.56.78.", "06.12.34.56.78"),
    ],
)
def test_finds_phone_numbers(text, phone):
    assert find_pii(text) == [("phone", phone)]
    assert scrub_pii(text) == text.replace(phone, "[phone]")


@pytest.mark.parametrize(
    "text",
    [
        *SHOP_TEXTS[1:],
        "Monday to Friday 9:00 to 18:00",
        "open kl. 10.00-18.00 on Saturdays",
        "open 0900-1800",
        "15 euros",
        "in 2026",
        "sold since 2019-2026",
        "delivered on 27.11.2026",
        "delivered on 2026-11-27",
        "delivered 2026-11-27T10:00",
        "my order NW-123456 has not arrived",
        "order NW-12345678 is late",
        "order 12345678 is late",
        "25% off",
        "12.5 % discount",
        "the price is 1 234 567,50 kr",
        "a budget of 12 345 678 NOK",
        "revenue of 12.345.678",
        "Windows 10.0.19045.2965",
        "app version v2.14.1",
        "ISBN 978-3-16-148410-0",
        "postcode 5003 Bergen",
        "+47 12",
        "size 42, 2 pairs",
        "1.2.3",
        "1.2.3.4.5",
        "10:30:45",
    ],
)
def test_ordinary_numbers_are_not_pii(text):
    assert find_pii(text) == []
    assert scrub_pii(text) == text


@pytest.mark.parametrize(
    "card",
    [
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "4111111111111111",
        "5555 5555 5555 4444",
        "3782 822463 10005",
        "6011 0009 9013 9424",
        "4222222222222",
        "6304 0000 0000 0000 018",
    ],
)
def test_finds_luhn_valid_card_numbers(card):
    text = f"my card is {card}, expires soon"
    assert find_pii(text) == [("card", card)]
    assert scrub_pii(text) == "my card is [card], expires soon"


@pytest.mark.parametrize(
    "digits",
    [
        "4111 1111 1111 1112",
        "4111-1111-1111-1121",
        "4111111111111112",
        "5555 5555 5555 4445",
        "1234 5678 9012 3456",
        "41111111111111111111",
    ],
)
def test_digit_runs_failing_luhn_are_not_cards(digits):
    text = f"reference {digits} here"
    assert find_pii(text) == []


def test_a_card_followed_by_its_expiry_is_still_found():
    assert find_pii("4111 1111 1111 1111 12/27") == [("card", "4111 1111 1111 1111")]


@pytest.mark.parametrize(
    "iban",
    [
        "GB82 WEST 1234 5698 7654 32",
        "GB82WEST12345698765432",
        "gb82 west 1234 5698 7654 32",
        "NO93 8601 1117 947",
        "NO9386011117947",
        "DE89 3704 0044 0532 0130 00",
        "FR14 2004 1010 0505 0001 3M02 606",
        "NL91ABNA0417164300",
        "BE68 5390 0754 7034",
        "CH93 0076 2011 6238 5295 7",
    ],
)
def test_finds_ibans_with_a_valid_checksum(iban):
    text = f"Pay it back to {iban} and thanks"
    assert find_pii(text) == [("iban", iban)]
    assert scrub_pii(text) == "Pay it back to [iban] and thanks"


@pytest.mark.parametrize(
    "not_iban",
    [
        "GB82 WEST 1234 5698 7654 33",
        "GB82WEST12345698765433",
        "NO93 8601 1117 948",
        "NO94 8601 1117 947",
        "DE89 3704 0044 0532 0130 01",
        "BE68 5390 0754 7035",
    ],
)
def test_ibans_with_a_wrong_checksum_are_not_ibans(not_iban):
    text = f"account {not_iban}."
    assert [kind for kind, _ in find_pii(text)] in ([], ["phone"])
    assert "[iban]" not in scrub_pii(text)


@pytest.mark.parametrize(
    ("text", "ip"),
    [
        ("login from 192.168.1.20.", "192.168.1.20"),
        ("server 10.0.0.1 is down", "10.0.0.1"),
        ("connect to 203.0.113.7:8080 please", "203.0.113.7"),
        ("IP:8.8.8.8", "8.8.8.8"),
        ("my IPv6 is 2001:db8::1.", "2001:db8::1"),
        ("loopback ::1 only", "::1"),
        ("link-local fe80::1ff:fe23:4567:890a, it says", "fe80::1ff:fe23:4567:890a"),
        (
            "full 2001:0db8:85a3:0000:0000:8a2e:0370:7334 form",
            "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
        ),
        ("mapped ::ffff:192.0.2.128 here", "::ffff:192.0.2.128"),
    ],
)
def test_finds_ip_addresses(text, ip):
    assert find_pii(text) == [("ip", ip)]
    assert scrub_pii(text) == text.replace(ip, "[ip]")


@pytest.mark.parametrize(
    "text",
    [
        "999.1.1.1 is not an IP",
        "256.256.256.256",
        "use std::vector here",
        "Tents :: Sleeping bags",
        "MAC 00:1A:2B:3C:4D:5E",
        "1:2:3",
    ],
)
def test_address_lookalikes_are_not_ips(text):
    assert find_pii(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "follow @fjordshop",
        "anna@localhost",
        "user@",
        "a@b.c",
        "name at example dot com",
    ],
)
def test_email_lookalikes_are_not_emails(text):
    assert find_pii(text) == []


@pytest.mark.parametrize(
    ("text", "found"),
    [
        # 15 digits in phone-like groups: Luhn-valid, so a card and not also a phone.
        ("3782 822463 10005", [("card", "3782 822463 10005")]),
        ("3782 822463 10006", [("phone", "3782 822463 10006")]),
        ("NO93 8601 1117 947", [("iban", "NO93 8601 1117 947")]),
        ("DE89 3704 0044 0532 0130 00", [("iban", "DE89 3704 0044 0532 0130 00")]),
        ("mail 4111111111111111@example.no", [("email", "4111111111111111@example.no")]),
        (
            "card 4111 1111 1111 1111 22 33 44 55",
            [("card", "4111 1111 1111 1111"), ("phone", "22 33 44 55")],
        ),
        (
            "BE68 5390 0754 7034 and BE68 5390 0754 7034",
            [("iban", "BE68 5390 0754 7034"), ("iban", "BE68 5390 0754 7034")],
        ),
    ],
)
def test_overlapping_shapes_are_reported_once_by_precedence(text, found):
    assert find_pii(text) == found


def test_find_pii_reports_kinds_in_order_of_appearance():
    text = (
        "From 192.168.1.20: mail anna@example.no, call +47 912 34 567, "
        "card 4111 1111 1111 1111, IBAN NO93 8601 1117 947."
    )
    assert find_pii(text) == [
        ("ip", "192.168.1.20"),
        ("email", "anna@example.no"),
        ("phone", "+47 912 34 567"),
        ("card", "4111 1111 1111 1111"),
        ("iban", "NO93 8601 1117 947"),
    ]
    assert scrub_pii(text) == "From [ip]: mail [email], call [phone], card [card], IBAN [iban]."


def test_keep_spares_the_business_contact_details_but_not_the_customers():
    text = (
        "Reach Fjord Shop at +47 55 20 40 60 or post@fjordshop.no. "
        "Customer kari@example.com, phone +47 912 34 567."
    )
    keep = ["+47 55 20 40 60", "post@fjordshop.no"]
    assert scrub_pii(text, keep=keep) == (
        "Reach Fjord Shop at +47 55 20 40 60 or post@fjordshop.no. Customer [email], phone [phone]."
    )
    assert (
        scrub_pii(text)
        == "Reach Fjord Shop at [phone] or [email]. Customer [email], phone [phone]."
    )


@pytest.mark.parametrize(
    "kept", ["+4755204060", "+47 (55) 20-40-60", "+47.55.20.40.60", "POST@FjordShop.NO"]
)
def test_keep_ignores_formatting_and_case(kept):
    text = "Shop: +47 55 20 40 60 / post@fjordshop.no"
    scrubbed = scrub_pii(text, keep=[kept])
    assert scrubbed.count("[") == 1
    assert ("[phone]" in scrubbed) == ("@" in kept)


def test_keep_does_not_spare_a_different_number():
    assert scrub_pii("call +47 55 20 40 61", keep=["+47 55 20 40 60"]) == "call [phone]"


def test_placeholders_are_never_matched():
    text = " ".join(PLACEHOLDERS.values())
    assert find_pii(text) == []
    assert scrub_pii(text) == text


@pytest.mark.parametrize(
    "text",
    [
        *SHOP_TEXTS,
        "From 192.168.1.20: mail anna@example.no, call +47 912 34 567, card 4111 1111 1111 1111",
        "4111 1111 1111 1111 22 33 44 55",
        "BE68 5390 0754 7034 and BE68 5390 0754 7034",
        "anna@example.no55 20 40 60",
        "+47 55 20 40 60 4111 1111 1111 1111",
        "2001:db8::1 192.168.1.1 ::1",
        "kari@example.com,kari@example.com;+4791234567/+4791234567",
    ],
)
def test_scrubbing_is_idempotent(text):
    once = scrub_pii(text)
    assert scrub_pii(once) == once
    kept_once = scrub_pii(text, keep=["+47 55 20 40 60"])
    assert scrub_pii(kept_once, keep=["+47 55 20 40 60"]) == kept_once

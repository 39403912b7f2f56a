"""Private data: precision and recall of the personal-data scan, per kind, and the bench tables.

    PYTHONPATH=src python benchmarks/data/privacy.py [--rows 5000] [--seed 0]

1. A generated table of ROWS rows: the real columns of ``../shared/bench/data/adult.csv.gz``
   (15 columns, its first ROWS rows), the real ham messages of ``../shared/data/sms_spam`` as a
   free-text column with e-mails and phone numbers generated into 10 % of them, one column per
   kind of personal data (values generated here, with valid checksums), and decoy columns that
   must not be flagged (16-digit numbers failing Luhn, IBANs failing mod 97, nine-digit
   numbers, version strings, capitalised product names).
   - column level: is each column flagged with its kind (and are the real and decoy ones not);
   - value level: of the generated values, the share found as their kind (recall), and of all
     values found as a kind, in every column, the share that are that kind (precision). In the
     free text, a span found that was not generated counts against precision, even where the
     real message does hold a phone number (some ham messages do).
   Names are drawn from pools of which about 40 % of given names and surnames are NOT in the
   shipped lists (``trainforge/data/person_names.py``): their recall is the honest one.
2. Every column of every table in ``../shared/bench/data``: the flagged ones are listed.
3. ``profile()`` time on adult (48,842 × 15), median of 5 (the scan reads <= 2,000 values per
   column).
"""

from __future__ import annotations

import argparse
import gzip
import ipaddress
import random
import statistics
import time
from collections import Counter
from pathlib import Path

import pandas as pd

from trainforge.data.dataset import Dataset
from trainforge.data.person_names import GIVEN_NAMES, SURNAMES
from trainforge.data.personal_values import PersonalKind, find_personal
from trainforge.data.privacy import header_hints, scan_privacy, whole_value_kind
from trainforge.data.profile import profile
from trainforge.data.read import read_table
from trainforge.data.schema import infer_schema

SHARED = Path(__file__).resolve().parents[3] / "shared"
BENCH = SHARED / "bench" / "data"
K = PersonalKind

GIVEN_IN = ["maria", "john", "yuki", "olga", "ahmed", "claire", "pedro", "anna", "wei", "fatima",
            "lukas", "sofia", "rahul", "emma", "ivan", "chloe", "omar", "giulia"]
GIVEN_OUT = ["siobhan", "thandiwe", "oluwaseun", "bartholomew", "eero", "dagny", "ximena",
             "anwen", "caoimhe", "zbigniew", "tamsin", "kwame"]
SURNAME_IN = ["garcia", "smith", "tanaka", "novak", "khan", "dubois", "silva", "muller",
              "rossi", "nguyen", "kowalski", "patel", "jensen", "murphy"]
SURNAME_OUT = ["okonkwo", "featherstonehaugh", "villanueva", "szymanski", "mbeki",
               "halvorsen", "quispe", "achterberg", "lindqvist"]


def luhn_complete(body: str) -> str:
    total = 0
    for position, char in enumerate(reversed(body)):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return body + str((10 - total % 10) % 10)


def iban(rng: random.Random, country: str, length: int) -> str:
    bban = "".join(rng.choice("0123456789") for _ in range(length - 4))
    digits = "".join(str(int(c, 36)) for c in bban + country + "00")
    compact = f"{country}{98 - int(digits) % 97:02d}{bban}"
    return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))


def generators(rng: random.Random) -> dict[str, tuple[PersonalKind, object]]:
    def digits(n: int) -> str:
        return "".join(rng.choice("0123456789") for _ in range(n))

    def name() -> str:
        given = rng.choice(GIVEN_IN if rng.random() < 0.6 else GIVEN_OUT).capitalize()
        last = rng.choice(SURNAME_IN if rng.random() < 0.6 else SURNAME_OUT).capitalize()
        return f"{given} {last}"

    def email() -> str:
        return (f"{rng.choice(GIVEN_IN + GIVEN_OUT)}.{rng.choice(SURNAME_IN)}{rng.randint(1, 99)}"
                f"@{rng.choice(['example.com', 'mail.example.org', 'uni.example.ac.uk'])}")

    def phone() -> str:
        area, exchange = f"{rng.randint(2, 9)}{digits(2)}", f"{rng.randint(2, 9)}{digits(2)}"
        return rng.choice([
            f"+44 20 7946 {digits(4)}", f"({area}) {exchange}-{digits(4)}",
            f"+33 6 {digits(2)} {digits(2)} {digits(2)} {digits(2)}", f"07700 {digits(6)}",
            f"+49 30 {digits(7)}", f"+1-{area}-{exchange}-{digits(4)}"])

    def card() -> str:
        number = rng.choice([luhn_complete("4" + digits(14)), luhn_complete("5" + str(
            rng.randint(1, 5)) + digits(13)), luhn_complete(rng.choice(["34", "37"]) + digits(12))])
        return " ".join(number[i:i + 4] for i in range(0, len(number), 4)) \
            if rng.random() < 0.5 else number

    def national_id() -> str:
        choice = rng.random()
        if choice < 0.4:
            area = rng.choice([a for a in range(1, 900) if a != 666])
            return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"
        if choice < 0.7:
            letters = "ABCEGHJKLMNPRSTWXYZ"
            return (f"{rng.choice(letters)}{rng.choice(letters)} {digits(2)} {digits(2)} "
                    f"{digits(2)} {rng.choice('ABCD')}")
        number = rng.randint(10_000_000, 99_999_999)
        return f"{number}{'TRWAGMYFPDXBNJZSQVHLCKE'[number % 23]}"

    def ip() -> str:
        if rng.random() < 0.7:
            return ".".join(str(rng.randint(1, 254)) for _ in range(4))
        return str(ipaddress.IPv6Address(rng.getrandbits(128)))

    def street() -> str:
        word = rng.choice(["Baker", "Oak", "Maple", "High", "Church", "Station", "Mill"])
        return rng.choice([f"{rng.randint(1, 999)} {word} {rng.choice(['Street', 'Road', 'Avenue'])}",
                           f"{rng.choice(['Linden', 'Berg', 'Haupt'])}straße {rng.randint(1, 99)}",
                           f"{rng.randint(1, 99)} rue de la {rng.choice(['Paix', 'Gare', 'Poste'])}"])

    def broken_card() -> str:
        good = luhn_complete("4" + digits(14))
        return good[:-1] + str((int(good[-1]) + rng.randint(1, 9)) % 10)

    def broken_iban() -> str:
        good = iban(rng, "DE", 22)
        return good[:-1] + str((int(good[-1]) + rng.randint(1, 9)) % 10)

    return {
        "full_name": (K.NAME, name), "email": (K.EMAIL, email), "phone": (K.PHONE, phone),
        "card": (K.CARD, card), "iban": (K.IBAN, lambda: iban(rng, *rng.choice(
            [("DE", 22), ("GB", 22), ("FR", 27), ("ES", 24), ("NL", 18)]))),
        "national_id": (K.NATIONAL_ID, national_id), "ip": (K.IP_ADDRESS, ip),
        "address": (K.STREET_ADDRESS, street),
        "decoy_luhn": (None, broken_card), "decoy_iban": (None, broken_iban),
        "decoy_nine_digits": (None, lambda: digits(9)),
        "decoy_version": (None, lambda: f"v{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 99)}"),
        "decoy_product": (None, lambda: f"{rng.choice(['Ultra', 'Prime', 'Nova', 'Turbo'])} "
                                        f"{rng.choice(['Blender', 'Kettle', 'Router', 'Drill'])}"),
    }


def ham_messages() -> list[str]:
    with gzip.open(SHARED / "data" / "sms_spam" / "SMSSpamCollection.gz", "rt",
                   encoding="utf-8") as handle:
        return [line.split("\t", 1)[1].strip() for line in handle if line.startswith("ham\t")]


def build(rows: int, seed: int) -> tuple[pd.DataFrame, dict[str, PersonalKind | None],
                                         list[list[tuple[PersonalKind, str]]]]:
    rng = random.Random(seed)
    frame = pd.read_csv(BENCH / "adult.csv.gz", nrows=rows)
    truth: dict[str, PersonalKind | None] = dict.fromkeys(frame.columns)
    for column, (kind, make) in generators(rng).items():
        frame[column] = [make() for _ in range(rows)]  # type: ignore[operator]
        truth[column] = kind
    ham = ham_messages()
    gens = generators(rng)
    texts, planted = [], []
    for i in range(rows):
        message, inserted = ham[i % len(ham)], []
        if rng.random() < 0.1:
            kind, make = gens[rng.choice(["email", "phone"])]
            value = make()  # type: ignore[operator]
            message = f"{message} reach me at {value} ok"
            inserted.append((kind, value))
        texts.append(message)
        planted.append(inserted)
    frame["comment"] = texts
    truth["comment"] = K.EMAIL  # and phones: both generated into it
    return frame, truth, planted


def column_level(frame: pd.DataFrame, truth: dict[str, PersonalKind | None]) -> None:
    flagged = scan_privacy(Dataset(frame, infer_schema(frame), "generated"))
    print("column level (flagged kinds; '-' none):")
    wrong = 0
    for column, kind in truth.items():
        got = flagged.get(column)
        kinds = [f"{f.kind.value}{' in text' if f.in_text else ''} {f.confidence:.2f}"
                 for f in got.found] if got else ["-"]
        ok = (got is None) if kind is None else (got is not None and kind in
                                                  {f.kind for f in got.found})
        wrong += not ok
        if kind is not None or got is not None:
            print(f"  {column:18s} truth={kind.value if kind else 'none':15s} "
                  f"{'ok ' if ok else 'BAD'} {', '.join(kinds)}")
    print(f"  real adult columns flagged: "
          f"{[c for c in truth if truth[c] is None and c in flagged and not c.startswith('decoy')]}"
          f"; columns wrong: {wrong} of {len(truth)}")


def value_level(frame: pd.DataFrame, truth: dict[str, PersonalKind | None],
                planted: list[list[tuple[PersonalKind, str]]]) -> None:
    found_as: Counter[PersonalKind] = Counter()
    right: Counter[PersonalKind] = Counter()
    total: Counter[PersonalKind] = Counter()
    for column, kind in truth.items():
        if column == "comment":
            continue
        hints = header_hints(column)
        for value in frame[column].map(str):
            got = whole_value_kind(value, hints=hints)
            if kind is not None:
                total[kind] += 1
            if got is not None:
                found_as[got] += 1
                right[got] += got is kind
    text_found: Counter[PersonalKind] = Counter()
    text_right: Counter[PersonalKind] = Counter()
    text_total: Counter[PersonalKind] = Counter()
    for message, inserted in zip(frame["comment"], planted, strict=True):
        spans = find_personal(message)
        for kind, value in inserted:
            text_total[kind] += 1
        for f in spans:
            text_found[f.kind] += 1
            text_right[f.kind] += any(f.kind is k and f.text == v for k, v in inserted)
    print("value level, whole cells (precision = right / found as the kind; recall = right /"
          " generated):")
    for kind in K:
        print(f"  {kind.value:15s} generated {total[kind]:6d}  found {found_as[kind]:6d}  "
              f"precision {right[kind] / max(found_as[kind], 1):.3f}  "
              f"recall {right[kind] / max(total[kind], 1):.3f}")
    print("value level, inside the free text (real ham messages):")
    for kind in K:
        if text_total[kind] or text_found[kind]:
            print(f"  {kind.value:15s} generated {text_total[kind]:5d}  found "
                  f"{text_found[kind]:5d}  precision "
                  f"{text_right[kind] / max(text_found[kind], 1):.3f}  recall "
                  f"{text_right[kind] / max(text_total[kind], 1):.3f}")
    out_given = sum(g in GIVEN_NAMES for g in GIVEN_OUT)
    out_last = sum(s in SURNAMES for s in SURNAME_OUT)
    print(f"  (name pools: {len(GIVEN_OUT) - out_given} of {len(GIVEN_OUT)} 'out' given names "
          f"and {len(SURNAME_OUT) - out_last} of {len(SURNAME_OUT)} 'out' surnames are not in "
          "the shipped lists)")


def bench_tables() -> None:
    print("bench tables (every column profiled):")
    for path in sorted(BENCH.glob("*.csv.gz")):
        dataset = read_table(path)
        flagged = scan_privacy(dataset)
        print(f"  {path.name:28s} {dataset.frame.shape[1]:3d} columns  flagged: "
              f"{[c.describe() for c in flagged.values()] or 'none'}")


def profile_time() -> None:
    dataset = read_table(BENCH / "adult.csv.gz")
    times = []
    for _ in range(5):
        started = time.perf_counter()
        profile(dataset, target="class")
        times.append(time.perf_counter() - started)
    print(f"profile() of adult ({dataset.frame.shape[0]:,} x {dataset.frame.shape[1]}): median "
          f"{statistics.median(times):.3f} s of 5")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    frame, truth, planted = build(args.rows, args.seed)
    column_level(frame, truth)
    value_level(frame, truth, planted)
    bench_tables()
    profile_time()


if __name__ == "__main__":
    main()

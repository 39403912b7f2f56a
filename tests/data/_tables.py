"""The real tables the data tests read (read-only): all ship with the repository."""

from tests._paths import EXAMPLES, SHARED, TABLES

ADULT = EXAMPLES / "adult.csv"  # UCI adult.data with a header row: 32,561 rows, target 'income'
CREDIT = EXAMPLES / "credit_g.csv"
CONCRETE = EXAMPLES / "concrete.csv"
SMS = EXAMPLES / "sms_spam.csv"
GERMAN = TABLES / "german.data.gz"  # the same table as CREDIT, as UCI ships it
BENCH = SHARED / "bench"  # the 18-table benchmark suite beside a checkout; a clone has none

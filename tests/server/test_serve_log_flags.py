"""`trainforge serve`'s --log flags are checked before anything is served: one line naming
what was wrong, exit code 2, no server started. (Here for the trained workspace the platform
tests share.)"""

from __future__ import annotations

from trainforge.workspace import Workspace


def test_a_log_exclude_naming_a_column_the_model_lacks_is_refused_naming_it(
        cli, trained: Workspace):
    done = cli("serve", "credit", "--log-exclude", "salary", "--port", "0", home=trained.home)
    assert done.returncode == 2
    assert "'salary'" in done.stderr and "'credit'" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_log_policy_that_is_not_all_none_or_sample_is_refused(cli, trained: Workspace):
    done = cli("serve", "credit", "--log", "sometimes", "--port", "0", home=trained.home)
    assert done.returncode == 2 and "sample:RATE" in done.stderr


def test_a_column_both_excluded_and_hashed_is_refused(cli, trained: Workspace):
    done = cli("serve", "credit", "--log-exclude", "age", "--log-hash", "age", "--port", "0",
               home=trained.home)
    assert done.returncode == 2 and "both excluded and hashed" in done.stderr

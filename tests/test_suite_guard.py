"""The suite's guard against tests that leak process-wide state (tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

pytest_plugins = ("pytester",)


def test_a_test_that_leaks_signal_state_fails_and_the_next_one_is_unaffected(pytester) -> None:
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makepyfile(
        """
        import os, signal

        def test_ignores_ctrl_c():
            signal.signal(signal.SIGINT, signal.SIG_IGN)

        def test_blocks_ctrl_c():
            signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGINT])

        def test_changes_directory(tmp_path):
            os.chdir(tmp_path)

        def test_after_them():
            assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
            assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-p", "no:xdist")
    result.assert_outcomes(passed=4, errors=3)
    result.stdout.fnmatch_lines(["*left changed process state behind*SIGINT handler*"])

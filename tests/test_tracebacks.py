"""Logged tracebacks show the user's code, not headwater's or a runner plugin's plumbing."""

from headwater.engine import format_user_traceback


def _plumbing(fn):
    __tracebackhide__ = True
    return fn()


def _user_code():
    raise ValueError("in user code")


def test_hidden_and_headwater_frames_are_left_out():
    try:
        _plumbing(_user_code)
    except ValueError as exc:
        text = format_user_traceback(exc)
    assert "_user_code" in text and "ValueError: in user code" in text
    assert "in _plumbing" not in text and "return fn()" not in text


def test_a_failed_task_logs_only_user_frames(caplog):
    from headwater import flow, task

    @task
    def broken():
        _user_code()

    @flow
    def f():
        return broken.call_with_state()

    f(return_state=True)
    logged = "\n".join(r.getMessage() for r in caplog.records if "Encountered exception" in r.getMessage())
    assert "_user_code" in logged and "broken" in logged
    assert "headwater/" not in logged.replace("headwater-home", "")

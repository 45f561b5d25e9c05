"""The reminder rule alone: who is reminded now, who is too soon and when they may be."""

from datetime import UTC, datetime, timedelta

from chonaikai.delivery.reminders import plan

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def row(i, channel="email", status="sent", sent=None, reminded=None, confirmed=None):
    return {"id": i, "channel": channel, "status": status, "sent_at": sent, "reminded_at": reminded,
            "confirmed_at": confirmed}


def test_right_after_sending_every_unconfirmed_household_is_due():
    result = plan([row(1, sent=NOW), row(2, "line", sent=NOW), row(3, "paper", "printed", sent=NOW),
                   row(4, sent=NOW, confirmed=NOW)], NOW, min_hours=0)
    assert result.due == {"email": [1], "line": [2], "paper": [3]} and result.count == 3


def test_at_most_once_in_min_hours_and_says_when():
    earlier = NOW - timedelta(hours=3)
    result = plan([row(1, sent=NOW - timedelta(days=2), reminded=earlier),
                   row(2, sent=NOW - timedelta(days=1), reminded=NOW - timedelta(hours=1)),
                   row(3, sent=NOW - timedelta(minutes=1))],  # sent a minute ago, never reminded: due
                  NOW, min_hours=12)
    assert result.due == {"email": [3]} and result.too_soon == 2
    assert result.next_allowed_at == earlier + timedelta(hours=12)
    later = plan([row(1, sent=NOW - timedelta(days=2), reminded=earlier)], NOW + timedelta(hours=9), min_hours=12)
    assert later.due == {"email": [1]}


def test_not_yet_delivered_and_failed_are_counted_not_reminded():
    result = plan([row(1, status="pending"), row(2, status="sending"), row(3, "paper", "pending"),
                   row(4, status="failed")], NOW, min_hours=12)
    assert result.count == 0 and result.not_yet_delivered == 3 and result.failed == 1


def test_a_reminder_still_on_its_way_counts_as_too_soon_not_as_undelivered():
    just = NOW - timedelta(seconds=5)
    result = plan([row(1, status="sending", sent=NOW - timedelta(hours=1), reminded=just),
                   row(2, status="pending", sent=NOW - timedelta(hours=1), reminded=just)], NOW, min_hours=12)
    assert result.too_soon == 2 and result.not_yet_delivered == 0


def test_the_result_in_the_address_survives_odd_input():
    from chonaikai.delivery.reminders import RemindResult, from_query, to_query

    result = RemindResult(email=2, line=1, paper=3, too_soon=4, next_allowed_at=NOW)
    back = from_query(**{k if k != "next" else "next": v for k, v in to_query(result).items()})
    assert (back.email, back.line, back.paper, back.too_soon, back.next_allowed_at) == (2, 1, 3, 4, NOW)
    import pytest
    from litestar.exceptions import ValidationException

    assert from_query("") is None
    for bad in ({"reminded": "².1.1"}, {"reminded": "1.2"}, {"reminded": "1.1.1", "too_soon": "²"},
                {"reminded": "1.1.1", "next": "９"}):
        with pytest.raises(ValidationException):
            from_query(**bad)

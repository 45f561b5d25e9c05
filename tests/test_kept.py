"""Values kept per process (kept.py): one read for many requests (``KeptValues.load``,
``OneLoad``) and many look-ups answered by one statement (``Batched``)."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from chonaikai.kept import Batched, KeptValues


async def test_kept_values_load_reads_once_for_requests_at_the_same_moment():
    kept = KeptValues(seconds=30)
    reads = 0
    gate = asyncio.Event()

    async def read():
        nonlocal reads
        reads += 1
        number = reads
        await gate.wait()
        return f"value {number}"

    waiting = [asyncio.create_task(kept.load("key", read)) for _ in range(10)]
    await asyncio.sleep(0.01)
    kept.forget_where(None)  # a change: who comes now reads afresh, and the first read is not kept
    later = asyncio.create_task(kept.load("key", read))
    await asyncio.sleep(0.01)
    gate.set()
    assert {await task for task in waiting} == {"value 1"} and await later == "value 2" and reads == 2
    assert kept.get("key") == "value 2"
    assert await kept.load("key", read) == "value 2" and reads == 2


async def test_a_caller_going_away_does_not_cancel_the_read_for_the_others():
    kept = KeptValues(seconds=30)
    gate = asyncio.Event()

    async def read():
        await gate.wait()
        return "value"

    gone, staying = asyncio.create_task(kept.load("key", read)), asyncio.create_task(kept.load("key", read))
    await asyncio.sleep(0.01)
    gone.cancel()
    gate.set()
    assert await staying == "value" and kept.get("key") == "value"


async def test_batched_look_ups_of_one_moment_are_one_read_and_each_gets_its_own():
    asked: list[list[int]] = []

    async def read_many(keys):
        asked.append(sorted(keys))
        await asyncio.sleep(0)
        return {key: key * 10 for key in keys if key != 3}

    batched = Batched(read_many)
    answers = await asyncio.gather(*[batched.get(key) for key in (1, 2, 3, 2)])
    assert answers == [10, 20, None, 20]  # a key not found: None
    assert asked == [[1, 2, 3]] and batched.statements == 1
    assert await batched.get(4) == 40 and batched.statements == 2  # a later moment: its own read


async def test_a_failed_batched_read_fails_every_look_up_of_it_and_not_the_next():
    failing = [True]

    async def read_many(keys):
        if failing[0]:
            raise RuntimeError("database gone")
        return {key: "ok" for key in keys}

    batched = Batched(read_many)
    results = await asyncio.gather(batched.get(1), batched.get(2), return_exceptions=True)
    assert all(isinstance(result, RuntimeError) for result in results)
    failing[0] = False
    assert await batched.get(1) == "ok"


where = contextvars.ContextVar("where", default="nowhere")


@pytest.mark.parametrize("shared", ["load", "batched"])
async def test_a_read_for_several_callers_runs_outside_the_callers_context(shared):
    """As Piccolo's current transaction is a context variable: what is read for several callers
    is never read inside one caller's transaction."""
    seen = []

    async def read():
        seen.append(where.get())
        return "value"

    async def read_many(keys):
        seen.append(where.get())
        return {key: "value" for key in keys}

    where.set("inside a caller's transaction")
    if shared == "load":
        assert await KeptValues(seconds=30).load("key", read) == "value"
    else:
        assert await Batched(read_many).get("key") == "value"
    assert seen == ["nowhere"]


def test_a_look_up_left_in_an_ended_loop_does_not_hold_up_the_next_loop():
    """A loop that ended between a look-up and its read (a test's, a server stopping): the
    next loop's look-ups are read, not left waiting on the old one."""

    async def read_many(keys):
        return {key: "value" for key in keys}

    batched = Batched(read_many)
    kept = KeptValues(seconds=30)

    async def never():
        await asyncio.Event().wait()

    async def ask_and_leave():
        # Both look-ups start in the loop's next turn, and the loop ends in that same turn: the
        # batch's read and the load's read never run there.
        asyncio.ensure_future(batched.get("key"))
        asyncio.ensure_future(kept.load("key", never))

    loop = asyncio.new_event_loop()
    loop.run_until_complete(ask_and_leave())
    assert batched._asked and kept._loading._reads  # left behind in the ended loop
    for task in asyncio.all_tasks(loop):
        task._log_destroy_pending = False  # ended with its loop, as meant here
        task.get_coro().close()
    loop.close()

    async def ask_again():
        async def read():
            return "value"
        return await asyncio.wait_for(batched.get("key"), 1), await asyncio.wait_for(kept.load("key", read), 1)

    assert asyncio.run(ask_again()) == ("value", "value")

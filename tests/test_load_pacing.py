"""Pacing of ``python -m fastxmpp load`` (issue 16): ``--total-rate`` (a global throttle
without bursts) and ``--loop`` (the closed model held for ``--duration``)."""
from __future__ import annotations

import asyncio

import pytest
from load_cli import run_load

from fastxmpp.load import cli
from fastxmpp.load.runner import LoadConfig, Pacer


class FakeClock:
    """A clock that only moves when the pacer sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        # the sleepers wake in the order they went to sleep, which is their slots' order
        target = self.now + seconds
        await asyncio.sleep(0)
        self.now = max(self.now, target)


def _sends(pacer, users, count, clock, stall=None):
    times = []

    async def user(i):
        async for seq in pacer.ticks(count):
            times.append(clock.now)
            if stall is not None and i == 0 and seq == 2:
                clock.now += stall  # the client fell behind (e.g. a long pause)

    async def main():
        await asyncio.gather(*(user(i) for i in range(users)))

    asyncio.run(main())
    return times


def test_total_rate_spaces_every_send_evenly():
    clock = FakeClock()
    pacer = Pacer(0.0, 100.0, clock=clock, sleep=clock.sleep)
    times = _sends(pacer, 5, 8, clock)
    assert len(times) == 40
    gaps = [round(b - a, 9) for a, b in zip(times, times[1:])]
    assert gaps == [0.01] * 39  # one send every 1/100 s, never two at once


def test_total_rate_does_not_make_up_for_lost_time_with_a_burst():
    clock = FakeClock()
    pacer = Pacer(0.0, 50.0, clock=clock, sleep=clock.sleep)
    times = _sends(pacer, 3, 6, clock, stall=5.0)
    gaps = [round(b - a, 9) for a, b in zip(times, times[1:])]
    assert min(gaps) >= 0.02  # after the stall: the schedule restarts, no catching up


def test_per_user_rate_with_a_global_limit():
    clock = FakeClock()
    pacer = Pacer(10.0, 1000.0, clock=clock, sleep=clock.sleep)
    times = _sends(pacer, 1, 5, clock)
    gaps = [round(b - a, 6) for a, b in zip(times, times[1:])]
    assert gaps == [0.1] * 4  # the user's own rate is the slower one


def test_options():
    config = cli.config_from_args(cli.parse_args(["--total-rate", "250", "--loop", "--duration", "5"]))
    assert (config.total_rate, config.loop, config.duration) == (250.0, True, 5.0)
    assert cli.config_from_args(cli.parse_args([])).total_rate == 0.0
    with pytest.raises(ValueError):
        LoadConfig(total_rate=-1).validate()
    with pytest.raises(SystemExit):
        cli.parse_args(["--total-rate", "-3"])


_load = run_load


@pytest.mark.prosody
@pytest.mark.parametrize("workers", ["1", "2"])
def test_total_rate_run_delivers_everything(tmp_path, workers):
    data, _ = _load(tmp_path, ["--users", "4", "--messages", "10", "--rate", "0", "--total-rate", "400",
                               "--duration", "60", "--workers", workers])
    msgs = data["messages"]
    assert data["ok"] is True and data["config"]["total_rate"] == 400.0
    assert (msgs["sent"], msgs["received"], msgs["lost"], msgs["duplicated"]) == (40, 40, 0, 0)


@pytest.mark.prosody
@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("scenario", ["chat", "iq"])
def test_loop_holds_the_sessions_and_sends_until_the_duration_ends(tmp_path, workers, scenario):
    data, out = _load(tmp_path, ["--scenario", scenario, "--users", "4", "--messages", "1", "--rate", "20",
                                 "--loop", "--duration", "3", "--workers", workers])
    msgs = data["messages"]
    assert data["ok"] is True and data["stopped_by_duration_cap"] is False
    assert msgs["sent"] > 4  # more than --messages: the users kept going
    assert msgs["expected"] == msgs["sent"] == msgs["received"] and msgs["lost"] == 0 and msgs["duplicated"] == 0
    assert data["errors"] == {} and "STOPPED" not in out


@pytest.mark.prosody
def test_loop_holds_idle_sessions_for_the_duration(tmp_path):
    data, _ = _load(tmp_path, ["--scenario", "idle", "--users", "3", "--hold", "0", "--loop", "--duration", "2",
                               "--workers", "1"])
    assert data["ok"] is True and data["sessions"]["peak"] == 3 and data["stopped_by_duration_cap"] is False
    assert data["duration_seconds"] >= 2.0


# -- the shared pacer: one timer per process, every sender due in a tick released together --
def test_one_wakeup_releases_every_sender_due_in_the_tick():
    sent = {}

    async def main():
        pacer = Pacer(10.0, tick=0.05)  # each user: 3 sends over 0.3 s, at most 8 ticks in all
        futs = [pacer.paced_calls(3, lambda seq, i=i: sent.setdefault(i, []).append(seq) is None)
                for i in range(50)]
        results = await asyncio.wait_for(asyncio.gather(*futs), 30)
        return pacer, results

    pacer, results = asyncio.run(main())
    assert results == [3] * 50 and all(seqs == [0, 1, 2] for seqs in sent.values()) and len(sent) == 50
    assert pacer.released == 150
    assert pacer.wakeups <= 8  # bounded by the ticks the schedule spans, not by the sends


def test_ticks_on_the_shared_timer_and_with_a_global_limit():
    async def main():
        pacer = Pacer(100.0, 1000.0, tick=0.002)

        async def user():
            return [seq async for seq in pacer.ticks(5)]

        got = await asyncio.wait_for(asyncio.gather(*(user() for _ in range(10))), 30)
        return pacer, got

    pacer, got = asyncio.run(main())
    assert got == [[0, 1, 2, 3, 4]] * 10
    assert 0 < pacer.wakeups <= pacer.released


def test_paced_calls_end_on_stop_on_false_and_pass_on_errors():
    async def main():
        pacer = Pacer(200.0, 500.0)
        stop = asyncio.Event()

        def until_three(seq):
            if seq == 2:
                stop.set()
            return True

        n_stop = await asyncio.wait_for(pacer.paced_calls(None, until_three, stop), 30)
        n_false = await asyncio.wait_for(pacer.paced_calls(10, lambda seq: seq < 4), 30)
        n_zero = await pacer.paced_calls(0, lambda seq: True)

        def boom(seq):
            raise RuntimeError("send failed")

        with pytest.raises(RuntimeError):
            await asyncio.wait_for(pacer.paced_calls(5, boom), 30)
        return n_stop, n_false, n_zero

    assert asyncio.run(main()) == (3, 4, 0)


def test_pacer_arguments():
    with pytest.raises(ValueError):
        Pacer(1.0, tick=0)

    async def main():
        with pytest.raises(ValueError):
            Pacer(0.0).paced_calls(3, lambda seq: True)

    asyncio.run(main())


def test_a_loop_run_counts_a_stamp_far_ahead_as_unexpected_without_growing_to_it():
    """With --loop the sequence numbers have no end: the table of those seen grows as they
    come, and a forged stamp (seq near 2**32) is counted, not allocated for."""
    from types import SimpleNamespace

    from fastxmpp.load.recorder import Recorder

    rec = Recorder(None)
    receiver, sender = SimpleNamespace(seen={}), SimpleNamespace(number=7)
    assert rec.record_delivery(receiver, sender, 0, 0)
    assert rec.record_delivery(receiver, sender, 1000, 0)  # a gap: grows
    assert not rec.record_delivery(receiver, sender, 1000, 0)  # a duplicate
    assert not rec.record_delivery(receiver, sender, (1 << 32) - 1, 0)
    assert (rec.received, rec.duplicates, rec.unexpected) == (2, 1, 1)
    assert len(receiver.seen[7]) < 1 << 22


# -- after a stall: missed slots are skipped and counted, never caught up in a burst --------
def test_per_user_rate_skips_the_slots_missed_in_a_stall_instead_of_a_burst():
    clock = FakeClock()
    pacer = Pacer(10.0, clock=clock, sleep=clock.sleep)
    times = _sends(pacer, 1, 8, clock, stall=1.0)
    assert len(times) == 8  # every stanza is still sent, later
    gaps = [round(b - a, 9) for a, b in zip(times, times[1:])]
    assert gaps[:2] == [0.1, 0.1] and gaps[2] > 1.0 - 1e-9  # the stall, then...
    assert gaps[3:] == [0.1] * 4  # ...no catching up: the user's own pace, on its own grid
    assert pacer.skipped >= 9  # the slots that passed during the stall, counted


def test_paced_calls_never_release_one_users_backlog_in_one_wakeup():
    import time

    released = []

    async def main():
        pacer = Pacer(100.0)

        def send(seq):
            released.append((seq, pacer.wakeups))
            if seq == 1:
                time.sleep(0.1)  # the loop stalls for ten of this user's slots
            return True

        n = await asyncio.wait_for(pacer.paced_calls(6, send), 30)
        return pacer, n

    pacer, n = asyncio.run(main())
    assert n == 6 and [seq for seq, _ in released] == list(range(6))
    wakeups = [w for _, w in released]
    assert len(set(wakeups)) == 6  # one send per wake-up: the missed slots were not fired together
    assert pacer.skipped >= 9

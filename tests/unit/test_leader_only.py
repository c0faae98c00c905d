"""LeaderOnly: the leader's parts run exactly while the lock is held (a scripted lock)."""

from __future__ import annotations

from typing import Any

from vigil.notify.hub import Hub
from vigil.system.leader import LeaderOnly


class ScriptedLock:
    """Answers ``try_acquire`` from a script; the last answer repeats."""

    def __init__(self, *answers: bool) -> None:
        self.answers = list(answers)
        self.held = False
        self.released = 0

    def try_acquire(self) -> bool:
        self.held = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return self.held

    def release(self) -> None:
        self.released += 1
        self.held = False


class Part:
    def __init__(self, log: list[str], name: str) -> None:
        self.log, self.name = log, name
        self.events: list[Any] = []

    def start(self) -> None:
        self.log.append(f"start {self.name}")

    def stop(self) -> None:
        self.log.append(f"stop {self.name}")

    def __call__(self, event: Any) -> None:
        self.events.append(event)


def test_parts_follow_the_lock_and_each_takeover_gets_fresh_senders() -> None:
    log: list[str] = []
    made: list[Part] = []

    def make_sinks() -> list[Part]:
        made.append(Part(log, f"sink{len(made)}"))
        return [made[-1]]

    hub = Hub()
    lock = ScriptedLock(False, True, True, False, True)
    leader = LeaderOnly(
        lock,  # type: ignore[arg-type]
        hub,
        make_sinks=make_sinks,
        tasks=[Part(log, "keeper")],
        check_s=3600,  # the test drives check() itself
    )
    leader.start()  # not the leader: nothing runs
    assert not leader.leading and log == [] and hub._sinks == []
    assert leader.check() and leader.check()  # taken, then confirmed: started once
    assert log == ["start sink0", "start keeper"] and hub._sinks == [made[0]]
    hub.publish("event")  # type: ignore[arg-type]
    assert made[0].events == ["event"]
    assert not leader.check()  # lost: everything stops, the sender is taken off the hub
    assert log[2:] == ["stop keeper", "stop sink0"] and hub._sinks == []
    hub.publish("missed")  # type: ignore[arg-type]
    assert made[0].events == ["event"]
    assert leader.check()  # taken again: a new sender
    assert hub._sinks == [made[1]] and leader.takeovers == 2
    assert leader.status()["leader"] is True
    leader.stop()
    assert log[-2:] == ["stop keeper", "stop sink1"] and lock.released == 1
    assert leader.status()["leader"] is False

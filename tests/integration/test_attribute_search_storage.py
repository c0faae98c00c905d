"""The attribute search against a plain Python filter of the same rows, on both engines: what the
indexed query returns is exactly the matching rows in rank order, and the plain-scan baseline
(the benchmark's) agrees with it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigil.core.attributes import AttributeQuery, Colour
from vigil.core.records import ObjectClass, Sighting
from vigil.storage import Database, Repository
from vigil.storage.attributes import search_sightings
from vigil.storage.schema import sightings

T0 = datetime(2026, 3, 1, tzinfo=UTC)
FEW = [Colour.BLACK, Colour.BLUE, Colour.RED]
CAMS = ["cam-a", "cam-b", "cam-c"]

row = st.tuples(
    st.sampled_from([ObjectClass.PERSON, ObjectClass.CAR]),
    st.sampled_from(FEW),
    st.sampled_from(FEW),
    st.sampled_from(CAMS),
    st.integers(0, 100),
    st.integers(0, 100),
)


@given(
    rows=st.lists(row, min_size=0, max_size=25),
    upper=st.sampled_from([None, *FEW]),
    lower=st.sampled_from([None, *FEW]),
    cams=st.sampled_from([None, frozenset({"cam-a"}), frozenset({"cam-b", "cam-c"})]),
    window=st.sampled_from([(None, None), (10, 60)]),
)
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_search_returns_exactly_the_matching_rows_in_rank_order(
    db: Database,
    *,
    rows: list,
    upper: Colour | None,
    lower: Colour | None,  # type: ignore[type-arg]
    cams: frozenset[str] | None,
    window: tuple[int | None, int | None],
) -> None:
    db.write(lambda c: c.execute(sightings.delete()))
    stored = [
        Sighting(
            f"s{i:03d}",
            cam,
            cls,
            T0 + timedelta(minutes=m),
            T0 + timedelta(minutes=m),
            0.5,
            upper_colour=up.value if cls is ObjectClass.PERSON else None,
            lower_colour=low.value if cls is ObjectClass.PERSON else None,
            body_colour=None if cls is ObjectClass.PERSON else up.value,
            colour_score=score / 100,
        )
        for i, (cls, up, low, cam, m, score) in enumerate(rows)
    ]
    Repository(db).add_sightings(stored)
    q = AttributeQuery(upper=upper, lower=lower)
    since = None if window[0] is None else T0 + timedelta(minutes=window[0])
    until = None if window[1] is None else T0 + timedelta(minutes=window[1])
    want = [
        s
        for s in stored
        if s.object_class is ObjectClass.PERSON
        and (upper is None or s.upper_colour == upper.value)
        and (lower is None or s.lower_colour == lower.value)
        and (cams is None or s.camera_id in cams)
        and (since is None or s.started_at >= since)
        and (until is None or s.started_at < until)
    ]
    want.sort(key=lambda s: (-(s.colour_score or 0), -s.started_at.timestamp(), s.id))
    kw = {"since": since, "until": until, "cameras": cams, "limit": 100}
    got = search_sightings(db, q, **kw)  # type: ignore[arg-type]
    assert [s.id for s in got] == [s.id for s in want]
    plain = search_sightings(db, q, plain=True, **kw)  # type: ignore[arg-type]
    assert [s.id for s in plain] == [s.id for s in want]

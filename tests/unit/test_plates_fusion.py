"""Track fusion of plate reads and the region profiles (no models)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vigil.config.plates import PlatesConfig
from vigil.perception.plates.fusion import FrameRead, PlateFuser, fuse
from vigil.perception.plates.profiles import EU, GENERIC, HK, OFF_FORMAT, US, get_profile
from vigil.system.plates import profile_from_config

T0 = datetime(2026, 6, 1, tzinfo=UTC)
BOX = (0.0, 0.0, 10.0, 5.0)


def reads(*pairs: tuple[str, float]) -> list[FrameRead]:
    return [FrameRead(t, c, T0 + timedelta(seconds=i), BOX) for i, (t, c) in enumerate(pairs)]


def test_votes_per_position_across_frames_where_no_single_frame_is_right() -> None:
    # No frame reads DH7X317, but every position is right in most frames.
    got = fuse(
        1,
        reads(
            ("DH7X31", 0.9), ("DB7X317", 0.8), ("DH7K317", 0.9), ("DH1X317", 0.7), ("DH7X317", 0.5)
        ),
        US,
    )
    assert got is not None and got.text == "DH7X317"
    assert got.reads == 5 and got.agreeing == 1 and 0 < got.confidence < 1


def test_unanimous_confident_reads_fuse_near_one_and_disagreement_lowers_confidence() -> None:
    same = fuse(1, reads(("ABC123", 0.99), ("ABC123", 0.99)), US)
    split = fuse(1, reads(("ABC123", 0.99), ("ABC128", 0.99), ("ABC123", 0.99)), US)
    assert same is not None and split is not None
    assert same.confidence > 0.95 and split.text == "ABC123"
    assert split.confidence < same.confidence


def test_in_format_reads_outvote_off_format_ones() -> None:
    # HK ordinary marks are letters then a number without a leading zero.
    got = fuse(1, reads(("AB1234", 0.7), ("A81234", 0.8)), HK)
    assert got is not None and got.text == "AB1234"
    assert HK.format_score("A81234") == OFF_FORMAT


def test_nothing_valid_gives_no_read() -> None:
    assert fuse(1, reads(("", 0.9)), US) is None
    assert fuse(1, reads(("ABCDEFGHIJK", 0.9)), US) is None  # too long for the US


def test_fuser_state_is_bounded_on_a_long_run() -> None:
    fuser = PlateFuser(US, max_reads=4, max_tracks=8)
    emitted = []
    for i in range(10_000):
        out = fuser.observe(i % 50, FrameRead("ABC123", 0.5 + (i % 7) / 20, T0, BOX))
        if out is not None:
            emitted.append(out)
        assert len(fuser) <= 8
        assert all(len(s.reads) <= 4 for s in fuser._tracks.values())
    assert fuser.evicted == len(emitted) > 0 and all(e.text == "ABC123" for e in emitted)
    assert len(fuser.close_all()) == 8 and len(fuser) == 0


def test_max_reads_keeps_the_most_confident_reads() -> None:
    fuser = PlateFuser(US, max_reads=2)
    for text, conf in (("ABC123", 0.9), ("XYZ999", 0.3), ("ABC123", 0.8), ("XYZ999", 0.2)):
        fuser.observe(7, FrameRead(text, conf, T0, BOX))
    got = fuser.close(7)
    assert got is not None and got.text == "ABC123" and got.agreeing == 2


def test_min_reads_and_min_confidence_give_clean_no_read() -> None:
    fuser = PlateFuser(US, min_reads=3)
    fuser.observe(1, FrameRead("ABC123", 0.9, T0, BOX))
    assert fuser.close(1) is None and fuser.close(99) is None
    weak = PlateFuser(US, min_confidence=0.5)
    weak.observe(1, FrameRead("ABC123", 0.3, T0, BOX))
    assert weak.close(1) is None


@pytest.mark.parametrize("bad", [{"max_reads": 0}, {"max_tracks": 0}, {"min_confidence": 2.0}])
def test_fuser_refuses_bad_settings(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        PlateFuser(US, **bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("profile", "raw", "want"),
    [
        (US, "abc-1O3", "ABC103"),  # O folds to 0 in the US
        (US, "A", None),
        (HK, "AB 1234", "AB1234"),
        (HK, "IO 5Q", "1050"),  # HK issues no I, O, Q
        (HK, "CHAN1234X", None),  # 9 characters: over HK's 8
        (HK, "7", "7"),
        (EU, "B-MW 1234", "BMW1234"),
        (EU, "AB-123-CD", "AB123CD"),
        (EU, "TOOLONG123", None),
        (GENERIC, "TOOLONG123", "TOOLONG123"),
        (EU, "   ", None),
    ],
)
def test_profiles_normalise_and_validate(profile, raw, want) -> None:  # type: ignore[no-untyped-def]
    assert profile.normalise(raw) == want


@pytest.mark.parametrize(
    ("profile", "text", "score"),
    [
        (HK, "AB1234", 1.0),
        (HK, "AB0123", OFF_FORMAT),  # leading zero: not an ordinary mark
        (HK, "LUCKY8", OFF_FORMAT),  # personalised: valid, off-format
        (HK, "ABI23", 0.0),  # contains I: not normalised
        (EU, "AB123CD", 1.0),
        (EU, "1234BCD", 1.0),
        (EU, "ZZZZZZ", OFF_FORMAT),
        (US, "ANYTHNG", 1.0),
        (US, "", 0.0),
    ],
)
def test_format_scores(profile, text, score) -> None:  # type: ignore[no-untyped-def]
    assert profile.format_score(text) == score


def test_confusables_compare_equal_per_region() -> None:
    assert EU.same_plate("8B5", "BB5") and HK.same_plate("AB1234", "A81234")
    assert not US.same_plate("", "")


def test_profiles_come_from_configuration() -> None:
    assert profile_from_config(PlatesConfig(region="hk")) is HK
    cfg = PlatesConfig.model_validate(
        {
            "region": "xx",
            "profiles": [
                {
                    "name": "xx",
                    "min_len": 3,
                    "max_len": 5,
                    "fold": {"O": "0"},
                    "patterns": ["[A-Z]{2}[0-9]{1,3}"],
                }
            ],
        }
    )
    p = profile_from_config(cfg)
    assert p.normalise("ao-12") == "A012" and p.format_score("AB12") == 1.0
    assert p.normalise("A") is None


@pytest.mark.parametrize(
    "bad",
    [
        {"region": "mars"},
        {"profiles": [{"name": "x", "min_len": 5, "max_len": 2}]},
        {"profiles": [{"name": "x", "fold": {"o": "0"}}]},
        {"profiles": [{"name": "x"}, {"name": "x"}]},
        {"hit_confirmations": 3},
        {"unknown": 1},
    ],
)
def test_bad_plate_config_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        PlatesConfig.model_validate(bad)


def test_unknown_region_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="hk"):
        get_profile("mars")

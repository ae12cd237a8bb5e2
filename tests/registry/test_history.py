"""What a rollback returns to, from the alias history."""

from mara.registry import AliasMove, rollback_target


def moves(*steps: tuple[str, str]) -> list[AliasMove]:
    return [AliasMove("champion", None, to, by, "", float(i)) for i, (to, by) in enumerate(steps)]


def test_rollback_returns_to_the_champion_before():
    history = moves(("1", "train"), ("2", "improve"))
    assert rollback_target(history, "2") == "1"


def test_a_second_rollback_goes_further_back_instead_of_undoing_the_first():
    history = moves(("1", "train"), ("2", "train"), ("3", "improve"), ("2", "rollback"))
    assert rollback_target(history, "2") == "1"
    assert rollback_target([*history, *moves(("1", "rollback"))], "1") is None


def test_challenger_moves_do_not_count():
    history = [*moves(("1", "train")), AliasMove("challenger", None, "2", "improve", "", 9.0)]
    assert rollback_target(history, "1") is None


def test_an_alias_moved_outside_mara_rolls_back_to_the_newest_recorded_champion():
    assert rollback_target(moves(("1", "train"), ("2", "improve")), "7") == "2"

from models.assembly import AssemblyPlan, assemble_teams, candidates_per_role


def test_candidates_per_role_keeps_the_product_within_the_team_budget() -> None:
    n = candidates_per_role(3, max_teams=2000, ceiling=30)
    assert n == 12 and n**3 <= 2000


def test_candidates_per_role_never_exceeds_the_ceiling() -> None:
    assert candidates_per_role(1, max_teams=2000, ceiling=30) == 30


def test_assembly_puts_the_best_retrieved_candidates_first() -> None:
    plan = AssemblyPlan(
        roles=("services", "reseller"), candidates={"services": ["s1", "s2"], "reseller": ["r1", "r2"]}
    )
    teams = assemble_teams(plan, max_teams=10)
    assert teams[0] == {"services": "s1", "reseller": "r1"}
    assert len(teams) == 4


def test_assembly_respects_the_team_budget() -> None:
    plan = AssemblyPlan(
        roles=("services", "reseller"), candidates={"services": ["s1", "s2", "s3"], "reseller": ["r1", "r2"]}
    )
    assert len(assemble_teams(plan, max_teams=3)) == 3


def test_a_locked_role_holds_only_the_locked_partner() -> None:
    plan = AssemblyPlan(
        roles=("services", "reseller"),
        candidates={"services": ["s1", "s2"], "reseller": ["r1", "r2"]},
        locked={"reseller": "r2"},
    )
    assert {team["reseller"] for team in assemble_teams(plan, max_teams=10)} == {"r2"}


def test_a_role_without_candidates_stays_empty_instead_of_blocking_every_team() -> None:
    plan = AssemblyPlan(roles=("services", "reseller"), candidates={"services": ["s1"], "reseller": []})
    assert assemble_teams(plan, max_teams=10) == [{"services": "s1", "reseller": None}]

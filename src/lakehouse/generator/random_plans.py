"""双随机: random inspection plans, their populations and draws. A part of
the World's day (events.World), on its state."""

from __future__ import annotations

import random

from . import vocab
from .draw import allocate, at, weighted


class RandomPlanEvents:
    def _plan_plans(self) -> None:
        p, rng, n = self.preset, random.Random(f"{self.seed}:plans"), self.horizon
        self.plans_by_day: dict[int, list] = {}
        self.plan_shortfall = 0
        if p.plans <= 0:
            return
        first, last = max(0, int(n * 0.15)), max(0, int(n * 0.8))
        if n <= 10:
            first, last = min(1, n - 1), max(0, n - 2)
        shares = [0.5 + rng.random() for _ in range(p.plans)]
        targets = allocate(p.draws, shares)
        industries = [i[0] for i in vocab.INDUSTRIES]
        for k in range(p.plans):
            day = first + (last - first) * k // max(1, p.plans - 1) if p.plans > 1 else first
            city_level = rng.random() < 0.3
            div = (
                "310000"
                if city_level
                else rng.choices(list(vocab.DISTRICT_WEIGHTS), list(vocab.DISTRICT_WEIGHTS.values()))[0]
            )
            inds = rng.sample(industries, rng.choice((2, 3, 4)))
            kinds = rng.sample(["env", "safety", "health", "culture", "commerce"], rng.choice((1, 2)))
            self.plans_by_day.setdefault(day, []).append(
                {
                    "n": k + 1,
                    "div": div,
                    "industries": inds,
                    "participants": kinds,
                    "target": targets[k],
                    "length": rng.randrange(15, 40),
                }
            )

    def _random_plans(self, i: int, rng, out: dict) -> None:
        """Plans starting today (with their draws) and plans whose results are published today."""
        day = self.days[i]
        for plan in self.plans_by_day.get(i, []):
            self._start_plan(i, plan, rng, out)
        for plan_row in self.plan_results_due.pop(i, []):
            upd = dict(plan_row)
            upd["results_published_date"] = day
            upd["updated_at"] = at(day, rng)
            out["random_plans"].append(upd)

    def _start_plan(self, i: int, plan: dict, rng, out) -> None:
        """A random plan starts: its row, its draws, and their inspections scheduled."""
        reg, day = self.registry, self.days[i]
        div = plan["div"]
        target = plan["target"] + self.plan_shortfall
        population = self._plan_population(plan, target, rng)
        pop = len(population)
        ratio = round(min(0.5, target / pop), 4) if pop else 0.0
        draws = round(pop * ratio)
        self.plan_shortfall = max(0, target - draws)
        lead = self._market(div)
        parts = [self.departments.by_div_kind[(div, k)]["department_code"] for k in plan["participants"]]
        scope = (
            ("全市" if div == "310000" else self.div_names[div])
            + "、".join(reg.ind[x][1] for x in plan["industries"])
            + "行业市场主体"
        )
        end_i = min(self.horizon - 1, i + plan["length"])
        row = {
            "plan_id": f"SJ{day.year}{div[2:]}{plan['n']:03d}",
            "plan_name": f"{day.year}年{scope}双随机抽查",
            "lead_department_code": lead["department_code"],
            "participant_department_codes": parts,
            "scope": scope,
            "sampling_ratio": ratio,
            "population": pop,
            "start_date": day,
            "end_date": self.days[end_i],
            "results_published_date": None,
            "updated_at": at(day, rng, 8, 1),
        }
        out["random_plans"].append(row)
        self.plan_results_due.setdefault(end_i + 5, []).append(row)
        for idx in rng.sample(population, draws):
            self._draw(i, end_i, row["plan_id"], div, lead, idx, rng, out["random_draws"])

    def _plan_population(self, plan: dict, target: int, rng) -> list[int]:
        """The entities a plan draws from: its industries in its district(s) (the city: all),
        widened by further industries until the target is at most 30% of it."""
        reg, div = self.registry, plan["div"]
        divs = reg.divisions if div == "310000" else [div]
        inds = list(plan["industries"])
        others = [x[0] for x in vocab.INDUSTRIES if x[0] not in inds]
        rng.shuffle(others)

        def population_of(industries):
            found = []
            for d in divs:
                for ind in industries:
                    found.extend(x for x in reg.pool_ind.get((d, ind), ()) if x < self.n_before_today)
            return found

        population = population_of(inds)
        while len(population) * 0.3 < target and others:  # widen the scope until the target fits
            inds.append(others.pop())
            population = population_of(inds)
        plan["industries"] = inds
        return population

    def _draw(self, i: int, end_i: int, plan_id: str, div: str, lead: dict, idx: int, rng, draws: list) -> None:
        """Entity idx drawn for a plan: the draw row, and its inspection (delivered by the
        holding source between today and the plan's end; an unreachable one gets listed)."""
        reg, day = self.registry, self.days[i]
        drow = {
            "plan_id": plan_id,
            "drawn_at": at(day, rng, 9, 1),
            "inspector_ids": [f"ZF{div[2:]}{rng.randrange(10000):04d}" for _ in range(2)],
            "updated_at": None,
        }
        drow["updated_at"] = drow["drawn_at"]
        self._entity_fields(rng, drow, idx, "S")
        draws.append(drow)
        insp_i = rng.randint(i, end_i)
        deliver_i = insp_i + rng.choice((0, 0, 1, 2))
        result = weighted(rng, vocab.INSPECTION_RESULTS)
        if reg.status[idx] != "存续":
            result = "NOT_OPERATING"
        holder = "city" if div == "310000" else self.catalog.districts[div].code
        self.random_insp.setdefault((holder, deliver_i), []).append((plan_id, idx, lead, insp_i, result))
        if result == "UNREACHABLE":
            e = {"idx": idx, "reason": "unreachable", "dept": lead}
            self.abnormal_due.setdefault(deliver_i + rng.randrange(5, 15), []).append(e)

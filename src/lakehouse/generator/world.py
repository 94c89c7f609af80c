"""The world: the registry of market entities and the supervising departments.

Entities are stored column-wise (one list per attribute, index = entity id) so
that millions fit in memory. Codes are issued with the check functions of
`lakehouse.identifiers`; a few entities carry a code a registrar issued with a
wrong check character (`check_exception`)."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from itertools import accumulate

from lakehouse.identifiers import USCC_CHARSET, org_code_check_char, regno_check_digit, uscc_check_char

from . import vocab
from .addresses import Buildings, Parts, place, render

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
LEGACY_OF = {"310101": "310103", "310106": "310108", "310151": "310230"}
UNKNOWN_DISTRICT_CODES = ("310199", "310231", "310300")
OLD_CUTOFF = date(2015, 10, 1)  # before this, entities were registered with a 15-digit number


def id_number(rng: random.Random, district: str, birth: date) -> str:
    body = f"{district}{birth:%Y%m%d}{rng.randrange(1000):03d}"
    return body + _ID_CHECK[sum(int(c) * w for c, w in zip(body, _ID_WEIGHTS, strict=False)) % 11]


def make_uscc(prefix: str, authority: str, org8: str) -> str:
    org = org8 + org_code_check_char(org8)
    body = prefix + authority + org
    return body + uscc_check_char(body)


def wrong_check(code: str, rng: random.Random) -> str:
    """The same code with a different (wrong) check character."""
    choices = [c for c in USCC_CHARSET if c != code[17]]
    return code[:17] + rng.choice(choices)


class Departments:
    """Departments of the city (level 市级) and of each district (区级)."""

    def __init__(
        self, seed: int, district_names: dict[str, str], legacy_rate_codes: dict, unknown_codes: dict
    ):
        rng = random.Random(f"{seed}:departments")
        self.rows: list[dict] = []
        self.by_code: dict[str, dict] = {}
        self.by_div_kind: dict[tuple[str, str], dict] = {}
        used = set()
        for div in sorted(district_names):
            dname = district_names[div]
            for kind, suffix, abbr, types, push in vocab.DEPARTMENT_KINDS:
                while True:
                    org8 = f"{rng.randrange(10**8):08d}"
                    if org8 not in used:
                        used.add(org8)
                        break
                code = make_uscc("11", div, org8)
                name = f"上海市{suffix}" if div == "310000" else f"上海市{dname}{suffix}"
                sent_div = div
                if (div, kind) in legacy_rate_codes:
                    sent_div = legacy_rate_codes[(div, kind)]
                if (div, kind) in unknown_codes:
                    sent_div = unknown_codes[(div, kind)]
                row = {
                    "department_code": code,
                    "department_name": name,
                    "level": "CITY" if div == "310000" else "DISTRICT",
                    "district_code": sent_div,
                    "updated_at": datetime(2016, 12, 1, 9, 0, 0) + timedelta(minutes=len(self.rows)),
                    "_div": div,
                    "_kind": kind,
                    "_abbr": abbr,
                    "_types": types,
                    "_push": push,
                }
                self.rows.append(row)
                self.by_code[code] = row
                self.by_div_kind[(div, kind)] = row
        self.by_licence_type = {}
        for row in self.rows:
            for t in row["_types"]:
                self.by_licence_type.setdefault((row["_div"], t), row)
        self.push_targets = {}
        for row in self.rows:
            if row["_push"]:
                self.push_targets.setdefault(row["_div"], []).append(row)

    def fake_code(self, rng: random.Random, div: str) -> str:
        """A well-formed department code the departments list does not hold."""
        while True:
            code = make_uscc("11", div, f"{rng.randrange(10**8):08d}")
            if code not in self.by_code:
                return code


class Registry:
    """Every market entity, column-wise. `district` is the true (today's) district;
    `district_sent` is what the registry row says (may be legacy or unknown)."""

    def __init__(self, seed: int, district_names: dict[str, str], rates):
        self.seed = seed
        self.rng = random.Random(f"{seed}:registry")
        self.rates = rates
        self.district_names = district_names
        self.divisions = [d for d in sorted(district_names) if d != "310000"]
        self.div_weights = [vocab.DISTRICT_WEIGHTS[d] for d in self.divisions]
        self.type_names = [t[0] for t in vocab.ENTITY_TYPES]
        self.type_prefix = {t[0]: t[1] for t in vocab.ENTITY_TYPES}
        self.type_weights = [t[2] for t in vocab.ENTITY_TYPES]
        self.ind_codes = [i[0] for i in vocab.INDUSTRIES]
        self.ind = {i[0]: i for i in vocab.INDUSTRIES}
        self.ind_w_ent = [i[5] for i in vocab.INDUSTRIES]
        self.ind_w_ind = [i[6] for i in vocab.INDUSTRIES]
        self.type_cum = list(accumulate(self.type_weights))
        self.div_cum = list(accumulate(self.div_weights))
        self.ind_cum_ent = list(accumulate(self.ind_w_ent))
        self.ind_cum_ind = list(accumulate(self.ind_w_ind))
        # columns
        self.uscc: list[str] = []
        self.reg_no: list[str | None] = []
        self.name: list[str] = []
        self.former: list[tuple[str, ...]] = []
        self.etype: list[str] = []
        self.district: list[str] = []
        self.district_sent: list[str] = []
        self.address: list[str] = []
        self.address_parts: list[Parts | None] = []   # what the address reads as (None: unparseable)
        self.building: list[int] = []                  # index in buildings.by_div[district]
        self.buildings = Buildings(seed)
        self.addr_rng = random.Random(f"{seed}:addresses")
        self.legal_rep: list[str] = []
        self.legal_id: list[str] = []
        self.capital: list[str] = []
        self.established: list[date] = []
        self.status: list[str] = []
        self.industry: list[str] = []
        self.updated: list[datetime] = []
        self.check_exception: list[bool] = []
        # indexes
        self.by_uscc: dict[str, int] = {}
        self.by_regno: dict[str, int] = {}
        self.names_used: dict[str, int] = {}
        self.pool: dict[str, list[int]] = {d: [] for d in self.divisions}
        self.pool_ind: dict[tuple[str, str], list[int]] = {}
        self.org_used: set[str] = set()
        self.regno_seq = 0
        self.dup_name_pairs: list[tuple[int, int]] = []
        self.lines: dict[int, str] = {}  # rendered registry rows of unchanged entities (see core)

    def __len__(self) -> int:
        return len(self.uscc)

    # --- issuing -------------------------------------------------------
    def _org8(self, old: bool) -> str:
        rng = self.rng
        while True:
            if old:
                org8 = f"{rng.randrange(10**8):08d}"
            else:
                org8 = "MA1" + "".join(rng.choice(USCC_CHARSET) for _ in range(5))
            if org8 not in self.org_used:
                self.org_used.add(org8)
                return org8

    def _brand(self) -> str:
        rng = self.rng
        n = 2 if rng.random() < 0.6 else 3
        return "".join(rng.choice(vocab.BRAND_CHARS) for _ in range(n))

    def _name(self, etype: str, industry: str, div: str) -> str:
        rng = self.rng
        terms = self.ind[industry][2]
        for _ in range(1000):
            brand, term = self._brand(), rng.choice(terms)
            if etype == "企业":
                r = rng.random()
                form = "股份有限公司" if r < 0.05 else "有限公司"
                name = f"{brand}（上海）{term}{form}" if r > 0.9 else f"上海{brand}{term}{form}"
            elif etype == "个体工商户":
                shop = "" if term.endswith(("店", "房", "馆")) else "店"
                name = f"上海市{self.district_names[div]}{brand}{term}{shop}"
            elif etype == "农民专业合作社":
                name = f"上海{brand}{term}专业合作社"
            elif etype == "事业单位":
                name = f"上海市{brand}{term}服务中心"
            elif etype == "社会团体":
                name = f"上海市{brand}{term}协会"
            elif etype == "民办非企业单位":
                name = f"上海{brand}{term}培训中心"
            elif etype == "基金会":
                name = f"上海{brand}公益基金会"
            else:
                name = f"上海{brand}律师事务所"
            if name not in self.names_used:
                return name
        raise RuntimeError("cannot find a unique name")

    def add(
        self,
        when: date,
        established: date | None = None,
        dup_of: int | None = None,
        etype: str | None = None,
        div: str | None = None,
    ) -> int:
        """Register one entity (new on `when`, or historic if `established` is given).
        The draws happen in one fixed order (kind, identifiers, name, district as
        sent, the rest): the same seed gives the same registry."""
        rng = self.rng
        idx = len(self.uscc)
        etype, div, industry = self._draw_kind(dup_of, etype, div)
        est = established or when
        old = est < OLD_CUTOFF
        code, exception, reg_no = self._draw_identifiers(idx, etype, div, old, dup_of)
        if dup_of is not None:
            name = self.name[dup_of].replace(self.district_names[self.district[dup_of]], "")
            self.name[dup_of] = name  # both carry the same name without district
        else:
            name = self._name(etype, industry, div)
        sent_div = div
        if old and div in LEGACY_OF and rng.random() < self.rates.legacy_district:
            sent_div = LEGACY_OF[div]
        elif dup_of is None and rng.random() < self.rates.unknown_district:
            sent_div = rng.choice(UNKNOWN_DISTRICT_CODES)
        birth = date(1950 + rng.randrange(48), 1 + rng.randrange(12), 1 + rng.randrange(28))
        self.uscc.append(code)
        self.reg_no.append(reg_no)
        self.name.append(name)
        self.former.append(())
        self.etype.append(etype)
        self.district.append(div)
        self.district_sent.append(sent_div)
        self._append_domicile_and_people(etype, div, birth)
        self.established.append(est)
        self.status.append("存续")
        self.industry.append(industry)
        self.updated.append(
            datetime.combine(
                est if est > date(2016, 1, 1) else date(2016, 1, 1) + timedelta(days=rng.randrange(300)),
                datetime.min.time(),
            )
            + timedelta(seconds=32400 + rng.randrange(30000))
        )
        self.check_exception.append(exception)
        self.by_uscc[code] = idx
        self.names_used[name] = idx
        self.pool[div].append(idx)
        self.pool_ind.setdefault((div, industry), []).append(idx)
        return idx

    def _draw_kind(self, dup_of: int | None, etype: str | None, div: str | None) -> tuple[str, str, str]:
        """(entity type, district, industry): a duplicate's are its original's, in another district."""
        rng = self.rng
        if dup_of is not None:
            return ("个体工商户", rng.choice([d for d in self.divisions if d != self.district[dup_of]]),
                    self.industry[dup_of])
        etype = etype or rng.choices(self.type_names, cum_weights=self.type_cum)[0]
        div = div or rng.choices(self.divisions, cum_weights=self.div_cum)[0]
        industry = rng.choices(
            self.ind_codes, cum_weights=self.ind_cum_ind if etype == "个体工商户" else self.ind_cum_ent
        )[0]
        return etype, div, industry

    def _draw_identifiers(self, idx: int, etype: str, div: str, old: bool,
                          dup_of: int | None) -> tuple[str, bool, str | None]:
        """(USCC, issued with a wrong check character?, old registration number or None)."""
        rng = self.rng
        r = rng.random()
        authority = "310000" if r < 0.6 else (div if r < 0.95 else rng.choice(self.divisions))
        code = make_uscc(self.type_prefix[etype], authority, self._org8(old))
        exception = dup_of is None and rng.random() < self.rates.uscc_check_exception
        if exception:
            code = wrong_check(code, rng)
        reg_no = None
        if old and etype in ("企业", "个体工商户", "农民专业合作社") and rng.random() < 0.7:
            self.regno_seq += 1
            body = f"{LEGACY_OF.get(div, div) if rng.random() < 0.3 else div}{self.regno_seq:08d}"
            reg_no = body + regno_check_digit(body)
            self.by_regno[reg_no] = idx
        return code, exception, reg_no

    def _append_domicile_and_people(self, etype: str, div: str, birth: date) -> None:
        """The new entity's building and address, legal representative, their ID number and the capital."""
        rng = self.rng
        b = self.buildings.settle(div)
        self.building.append(b)
        text, parts = self.random_address(div, b)
        self.address.append(text)
        self.address_parts.append(parts)
        self.legal_rep.append(
            rng.choice(vocab.SURNAMES) + "".join(rng.choice(vocab.GIVEN) for _ in range(rng.choice((1, 2))))
        )
        self.legal_id.append(id_number(rng, rng.choice(self.divisions), birth))
        self.capital.append(
            ""
            if etype in ("个体工商户",) and rng.random() < 0.5
            else str(rng.choice((3, 10, 50, 100, 200, 500, 1000, 5000)))
        )

    def random_address(self, div: str, b: int) -> tuple[str, Parts | None]:
        """The domicile in building b of div, as the registry writes it."""
        # two draws, as before buildings existed: every other registry value stays what it was
        self.rng.randrange(len(vocab.ROADS)), self.rng.randrange(2000)
        floor, room = place(self.addr_rng, self.buildings, div, b)
        return render(self.addr_rng, self.buildings, self.district_names, div, b, floor, room, self.rates)

    def populate(self, n: int, start: date) -> None:
        """The registry as it stands on the first day: entities established 1990 .. the day before."""
        rng = self.rng
        span = (start - date(1992, 1, 1)).days
        n_dup = max(2, n // 400)
        for _ in range(n - 2 * n_dup):
            est = date(1992, 1, 1) + timedelta(days=int(span * rng.random() ** 0.6))
            idx = self.add(start, established=min(est, start - timedelta(days=1)))
            if rng.random() < 0.08:
                self.status[idx] = rng.choice(("注销", "注销", "吊销", "迁出"))
        # pairs of individual businesses with the same name in different districts
        for _ in range(n_dup):
            est = date(2005, 1, 1) + timedelta(days=rng.randrange(3000))
            a = self.add(start, established=est, etype="个体工商户")
            b = self.add(start, established=est, dup_of=a)
            self.names_used[self.name[a]] = a
            self.dup_name_pairs.append((a, b))

    # --- changes on a day ------------------------------------------------
    def rename(self, idx: int, when: datetime) -> None:
        old = self.name[idx]
        new = self._name(self.etype[idx], self.industry[idx], self.district[idx])
        self.former[idx] = self.former[idx] + (old,)
        self.name[idx] = new
        self.names_used[new] = idx
        self.updated[idx] = when
        self.lines.pop(idx, None)

    def end(self, idx: int, when: datetime, status: str) -> None:
        self.status[idx] = status
        self.updated[idx] = when
        self.lines.pop(idx, None)

    def move(self, idx: int, when: datetime) -> None:
        b = self.buildings.settle(self.district[idx])
        self.building[idx] = b
        self.address[idx], self.address_parts[idx] = self.random_address(self.district[idx], b)
        self.updated[idx] = when
        self.lines.pop(idx, None)

    def row(self, idx: int) -> dict:
        """The registry row in canonical fields (values as the registry sends them)."""
        ind = self.ind[self.industry[idx]]
        return {
            "uscc": self.uscc[idx],
            "reg_no": self.reg_no[idx],
            "name": self.name[idx],
            "former_names": list(self.former[idx]),
            "entity_type": self.etype[idx],
            "registered_district": self.district_sent[idx],
            "address": self.address[idx],
            "_address_parts": self.address_parts[idx],
            "legal_representative": self.legal_rep[idx],
            "legal_representative_id_number": self.legal_id[idx],
            "registered_capital_10k_yuan": self.capital[idx] or None,
            "established_date": self.established[idx],
            "registration_status": self.status[idx],
            "industry_code": ind[0],
            "business_scope": ind[3],
            "updated_at": self.updated[idx],
        }

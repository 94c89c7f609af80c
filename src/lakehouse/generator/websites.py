"""Registered websites: their filings and the city's crawls. A part of the
World's day (events.World), on its state."""

from __future__ import annotations

import random
from datetime import datetime

from . import vocab
from .draw import at


class WebsiteEvents:
    def _plan_websites(self) -> None:
        reg, rng = self.registry, random.Random(f"{self.seed}:websites")
        self.websites = []
        used = set()
        for idx in range(len(reg)):
            if reg.etype[idx] != "企业":
                continue
            fin = reg.industry[idx] == "J6639"
            if rng.random() < (0.4 if fin else self.preset.websites_share):
                while True:
                    dom = "".join(rng.choice("abcdefghjklmnpqrstwxyz") for _ in range(rng.randrange(5, 10)))
                    dom += rng.choice((".com", ".cn", ".com.cn", ".net"))
                    if dom not in used:
                        used.add(dom)
                        break
                self.websites.append(
                    {
                        "idx": idx,
                        "domain": dom,
                        "icp": f"沪ICP备{rng.randrange(10**7, 10**8)}号",
                        "p2p": rng.random() < (0.6 if fin else 0.01),
                    }
                )

    def _homepage(self, rng, site) -> str:
        parts = rng.sample(vocab.PLAIN_PHRASES, 3)
        if site["p2p"]:
            parts += rng.sample(vocab.P2P_PHRASES, 2)
        rng.shuffle(parts)
        return "，".join(parts) + "。"

    def _website_crawls(self, i: int, rng, rows: list[dict]) -> None:
        """Every filed website crawled on day 0, then a few a day."""
        day = self.days[i]
        if i == 0:
            for site in self.websites:
                site["text"] = self._homepage(rng, site)
                rows.append(self._site_row(rng, site, at(day, rng, 0, 6)))
        elif self.websites:
            for _ in range(int(len(self.websites) * 0.003 + rng.random())):
                site = self.websites[rng.randrange(len(self.websites))]
                site["text"] = self._homepage(rng, site)
                rows.append(self._site_row(rng, site, at(day, rng, 0, 6)))

    def _site_row(self, rng, site, crawled: datetime) -> dict:
        row = {
            "domain": site["domain"],
            "icp_no": site["icp"],
            "homepage_text": site["text"],
            "crawled_at": crawled,
        }
        if "sent" in site:
            row["uscc_as_sent"], faults = site["sent"]
            row["_faults"] = list(faults)
        else:
            self._entity_fields(rng, row, site["idx"], "S")
            row["_faults"] = [f for f in row.get("_faults", []) if not f.startswith("name_")]
            site["sent"] = (row["uscc_as_sent"], list(row["_faults"]))
        row.pop("entity_name", None)
        return row
